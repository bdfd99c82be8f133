"""Small shared test steps: raw tus uploads through a TestClient or httpx client."""

from __future__ import annotations

import base64
import os
import random
import struct
from pathlib import Path
from typing import Any

from tusclient.uploader.uploader import Uploader

TUS = {"Tus-Resumable": "1.0.0"}
OCTET = {"Content-Type": "application/offset+octet-stream"}


def b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def create_upload(client: Any, auth: dict[str, str], length: int, name: str = "clip.mp4") -> str:
    r = client.post(
        "/api/v1/uploads",
        headers={
            **TUS,
            **auth,
            "Upload-Length": str(length),
            "Upload-Metadata": f"filename {b64(name)}",
        },
    )
    assert r.status_code == 201, r.text
    return str(r.headers["Location"])


def patch(client: Any, url: str, auth: dict[str, str], offset: int, data: bytes) -> Any:
    return client.patch(
        url, content=data, headers={**TUS, **auth, **OCTET, "Upload-Offset": str(offset)}
    )


def upload(
    client: Any, auth: dict[str, str], data: bytes, name: str = "clip.mp4", chunk: int = 1 << 20
) -> str:
    url = create_upload(client, auth, len(data), name)
    for offset in range(0, len(data), chunk):
        r = patch(client, url, auth, offset, data[offset : offset + chunk])
        assert r.status_code == 204, r.text
    return url


def padded(video: Path, size: int, rng: random.Random | None = None) -> bytes:
    """The test video followed by an MP4 `free` box: still a valid MP4, and `size` long.

    The padding is random (from `rng` when given, for a reproducible run), so every file made
    this way has its own SHA-256.
    """
    data = video.read_bytes()
    count = size - len(data) - 8
    pad = rng.randbytes(count) if rng is not None else os.urandom(count)
    return data + struct.pack(">I", 8 + count) + b"free" + pad


def url_of(uploader: Uploader) -> str:
    """The upload URL of a tuspy client, which it has once its upload was created."""
    assert uploader.url is not None, "the tus client has not created its upload"
    return uploader.url
