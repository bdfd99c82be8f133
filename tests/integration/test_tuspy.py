"""A real tus client (tuspy) against a real `portal serve` process."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from tusclient import client as tus
from tusclient.storage.interface import Storage as UrlStorage
from tusclient.uploader.uploader import Uploader

from portal.custody.receipt import verify_receipt
from tests.support.api import new_submission
from tests.support.servers import Server
from tests.support.uploads import url_of

CHUNK = 256 * 1024


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_submission(server: Server) -> tuple[str, dict[str, str]]:
    with httpx.Client(base_url=server.url) as http:
        sub_id, token = new_submission(http)
    return sub_id, {"Authorization": f"Bearer {token}"}


_streams: list[BinaryIO] = []


@pytest.fixture(autouse=True)
def _close_streams() -> Iterator[None]:
    yield
    while _streams:
        _streams.pop().close()


class ClosingUploader(Uploader):
    """tuspy opens the file for each size check and chunk and never closes it."""

    def get_file_stream(self) -> BinaryIO:
        stream: BinaryIO = super().get_file_stream()  # type: ignore[no-untyped-call]  # tuspy
        _streams.append(stream)
        return stream


class JsonUrlStorage(UrlStorage):
    """Where a device remembers upload URLs between runs (tuspy's own leaks its file)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_item(self, key: str) -> str | None:
        return self._load().get(key)

    def set_item(self, key: str, value: str) -> None:
        self.path.write_text(json.dumps({**self._load(), key: value}))

    def remove_item(self, key: str) -> None:
        items = self._load()
        items.pop(key, None)
        self.path.write_text(json.dumps(items))


def uploader(server: Server, auth: dict[str, str], video: Path, **kw: Any) -> Uploader:
    client = tus.TusClient(f"{server.url}/api/v1/uploads", headers=auth)
    return ClosingUploader(
        file_path=str(video),
        client=client,
        chunk_size=CHUNK,
        metadata={"filename": video.name},
        upload_checksum=True,
        **kw,
    )


def assert_received(server: Server, sub_id: str, auth: dict[str, str], video: Path) -> None:
    """The status, the receipt and the stored original all carry the source's SHA-256."""
    want = sha256_file(video)
    with httpx.Client(base_url=server.url, headers=auth) as http:
        files = http.get(f"/api/v1/submissions/{sub_id}").json()["files"]
        receipt = http.get(f"/api/v1/submissions/{sub_id}/receipt").json()
        public_key = http.get("/api/v1/log/public-key").text.strip()
    assert [f["sha256"] for f in files] == [want]
    report = verify_receipt(receipt, public_key, [video])
    assert report.ok, report.text()
    assert [f["sha256"] for f in receipt["files"]] == [want]
    stored = server.data_dir / "storage" / "sha256" / want
    assert sha256_file(stored) == want
    assert stored.stat().st_size == video.stat().st_size


def test_uninterrupted(server: Server, video: Path) -> None:
    sub_id, auth = open_submission(server)
    uploader(server, auth, video).upload()
    assert_received(server, sub_id, auth, video)


def test_stopped_then_resumed_by_a_new_client(server: Server, video: Path, tmp_path: Path) -> None:
    sub_id, auth = open_submission(server)
    urls = JsonUrlStorage(tmp_path / "tus-urls.json")
    first = uploader(server, auth, video, store_url=True, url_storage=urls)
    half = (video.stat().st_size // 2) // CHUNK * CHUNK
    first.upload(stop_at=half)
    assert first.offset == half

    second = uploader(server, auth, video, store_url=True, url_storage=urls)
    assert second.url == first.url
    assert second.offset == half  # found by HEAD, not re-sent
    second.upload()
    assert_received(server, sub_id, auth, video)


def test_server_killed_mid_patch_then_resumed(tmp_path: Path, video: Path) -> None:
    server = Server(tmp_path / "data", env={"PORTAL_UPLOAD_LOCK_LEASE": "2"}).start()
    try:
        sub_id, auth = open_submission(server)
        first = uploader(server, auth, video)
        quarter = (video.stat().st_size // 4) // CHUNK * CHUNK
        first.upload(stop_at=quarter)
        data = video.read_bytes()
        sent = threading.Event()

        def slow_body() -> Iterator[bytes]:
            yield data[quarter : quarter + CHUNK]
            sent.set()
            time.sleep(30)  # the server dies while this body is still arriving
            yield data[quarter + CHUNK :]

        def patch() -> None:
            headers = {
                **auth,
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(quarter),
                "Content-Type": "application/offset+octet-stream",
            }
            with pytest.raises(httpx.HTTPError):
                httpx.patch(url_of(first), content=slow_body(), headers=headers, timeout=60)

        t = threading.Thread(target=patch, daemon=True)
        t.start()
        assert sent.wait(10)
        time.sleep(0.5)
        server.kill()
        t.join(5)
        server.start()

        resumed = uploader(server, auth, video, url=first.url, retries=10, retry_delay=1)
        # Only durable bytes count: the killed PATCH was never committed.
        assert resumed.offset == quarter
        resumed.upload()
        assert_received(server, sub_id, auth, video)
    finally:
        server.stop()
