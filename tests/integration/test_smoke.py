import base64
import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.both_backends

TUS = {"Tus-Resumable": "1.0.0"}


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def test_whole_upload_in_two_patches(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    sub_id, auth = witness
    data = video.read_bytes()
    r = client.post(
        "/api/v1/uploads",
        headers={
            **TUS,
            **auth,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": f"filename {b64('balcony.mp4')}",
        },
    )
    assert r.status_code == 201, r.text
    url = r.headers["Location"]
    half = len(data) // 2
    r = client.patch(
        url,
        content=data[:half],
        headers={
            **TUS,
            **auth,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == str(half)
    r = client.patch(
        url,
        content=data[half:],
        headers={
            **TUS,
            **auth,
            "Upload-Offset": str(half),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert r.status_code == 204, r.text
    r = client.get(f"/api/v1/submissions/{sub_id}", headers=auth)
    files = r.json()["files"]
    assert files[0]["sha256"] == hashlib.sha256(data).hexdigest()
