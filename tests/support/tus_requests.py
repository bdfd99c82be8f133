"""tus requests spelled out header by header, the checks of a refusal, and what is stored.

For the protocol and bad-input suites: every refusal is checked by status, JSON error body and
tus headers, and against a snapshot of every row and file the portal keeps.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.support.api import runtime

UPLOADS = "/api/v1/uploads"
TUS_VERSION = "1.0.0"
TUS = {"Tus-Resumable": TUS_VERSION}
OCTET = "application/offset+octet-stream"
TABLES = ("submissions", "consents", "uploads", "evidence", "log_entries")

Auth = dict[str, str]
Witness = tuple[str, Auth]


def b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode()


def storage_root(client: TestClient) -> Path:
    return runtime(client).settings.data_dir / "storage"


@dataclass(frozen=True)
class Stored:
    """Everything the portal keeps: table rows and the files under the storage folder."""

    rows: dict[str, list[tuple[Any, ...]]]
    files: dict[str, int]


def stored(client: TestClient) -> Stored:
    rt = runtime(client)
    with rt.engine.connect() as conn:
        rows = {
            table: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
            for table in TABLES
        }
    root = storage_root(client)
    files = {
        p.relative_to(root).as_posix(): p.stat().st_size
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
    return Stored(rows, files)


def assert_error(
    r: httpx.Response, status: int, code: str | None = None, *, tus: bool = True
) -> None:
    """Status, the JSON error shape (not for HEAD) and Tus-Resumable on upload routes."""
    assert r.status_code == status, (r.status_code, r.text)
    if tus:
        assert r.headers.get("Tus-Resumable") == TUS_VERSION
    if r.request.method == "HEAD":
        return
    body = r.json()
    assert isinstance(body, dict)
    assert set(body) == {"error", "message"}, body
    assert isinstance(body["error"], str)
    assert body["error"]
    assert isinstance(body["message"], str)
    assert body["message"].strip()
    if code is not None:
        assert body["error"] == code, body


def upload_id_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def partial_path(client: TestClient, url: str) -> Path:
    return storage_root(client) / "partial" / upload_id_of(url)


def create_upload(
    client: TestClient,
    auth: Mapping[str, str],
    length: int | None,
    *,
    filename: str = "balcony.mp4",
    extra: Mapping[str, str] | None = None,
) -> str:
    headers = {
        **TUS,
        **auth,
        "Upload-Metadata": f"filename {b64(filename)},filetype {b64('video/mp4')}",
        **(extra or {}),
    }
    if length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(length)
    r = client.post(UPLOADS, headers=headers)
    assert r.status_code == 201, r.text
    location: str = r.headers["Location"]
    return location


def patch(
    client: TestClient,
    url: str,
    auth: Mapping[str, str],
    data: bytes,
    offset: int,
    extra: Mapping[str, str] | None = None,
) -> httpx.Response:
    headers = {**TUS, **auth, "Upload-Offset": str(offset), "Content-Type": OCTET, **(extra or {})}
    r: httpx.Response = client.patch(url, content=data, headers=headers)
    return r


def head(client: TestClient, url: str, auth: Mapping[str, str]) -> httpx.Response:
    r: httpx.Response = client.head(url, headers={**TUS, **auth})
    return r


def offset_of(client: TestClient, url: str, auth: Mapping[str, str]) -> int:
    r = head(client, url, auth)
    assert r.status_code == 200, r.status_code
    return int(r.headers["Upload-Offset"])


def files_of(client: TestClient, sub_id: str, auth: Mapping[str, str]) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/submissions/{sub_id}", headers=dict(auth))
    assert r.status_code == 200, r.text
    files = r.json()["files"]
    assert isinstance(files, list)
    return files


def bearer(token: str) -> Auth:
    return {"Authorization": f"Bearer {token}"}
