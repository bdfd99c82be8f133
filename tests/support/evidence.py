"""Evidence items made by real uploads through the API."""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.support.api import new_submission
from tests.support.uploads import upload


@dataclass
class Item:
    id: str
    data: bytes
    sha256: str
    submission_id: str
    upload_id: str
    witness: dict[str, str]


def received(
    client: TestClient,
    data: bytes,
    name: str = "balcony.mp4",
    submission: tuple[str, dict[str, str]] | None = None,
    **extra: Any,
) -> Item:
    """Upload `data` as a witness (a new submission unless given one) and return the item."""
    if submission is None:
        sub_id, token = new_submission(client, **extra)
        submission = sub_id, {"Authorization": f"Bearer {token}"}
    sub_id, witness = submission
    url = upload(client, witness, data, name=name)
    upload_id = url.rsplit("/", 1)[1]
    status = client.get(f"/api/v1/submissions/{sub_id}", headers=witness).json()
    done = next(u for u in status["uploads"] if u["id"] == upload_id)
    assert done["status"] == "completed", status
    sha = hashlib.sha256(data).hexdigest()
    file = next(f for f in status["files"] if f["sha256"] == sha and f["name"] == name)
    return Item(file["id"], data, sha, sub_id, upload_id, witness)


def png(width: int = 16, height: int = 16) -> bytes:
    """A small valid RGB PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = b"".join(
        b"\x00" + b"".join(bytes([x * 16 % 256, y * 16 % 256, 128]) for x in range(width))
        for y in range(height)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def photo_with_gps() -> bytes:
    """A JPEG whose EXIF names its camera (Apple iPhone 15) and place (Ciudad Juárez)."""
    import io
    from fractions import Fraction

    from PIL import Image

    from portal.media.exif import GPS_IFD, MAKE, MODEL

    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = "Apple", "iPhone 15"
    where = exif.get_ifd(GPS_IFD)
    where[1], where[2] = "N", (Fraction(31), Fraction(44), Fraction(24))
    where[3], where[4] = "W", (Fraction(106), Fraction(29), Fraction(6))
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="JPEG", exif=exif)
    return out.getvalue()
