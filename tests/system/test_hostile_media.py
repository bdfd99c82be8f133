"""Hostile media sent through tus to a running `portal serve`: each upload is acknowledged, the
server's memory stays near idle (the parsing happens in a limited child process), each item is
marked unreadable, and later starts do not try it again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, null, select, update
from sqlalchemy.orm import Session, sessionmaker

from portal.custody.models import LogEntry
from portal.evidence.models import Evidence
from portal.uploads.models import Upload
from tests.support.api import new_submission
from tests.support.hostile_media import corpus
from tests.support.media import make_video
from tests.support.servers import Server
from tests.support.uploads import upload

MiB = 1024 * 1024
RSS_MARGIN = 64 * MiB


def rss(pid: int) -> int:
    """Resident set size of one process, in bytes (its children are not counted)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@contextmanager
def peak_rss(pid: int) -> Iterator[list[int]]:
    """Samples the process's RSS every 5 ms while the block runs; yields [peak]."""
    peak, stop = [rss(pid)], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss(pid))
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def sessions(data: Path) -> sessionmaker[Session]:
    return sessionmaker(create_engine(f"sqlite:///{data / 'portal.db'}"))


def item_of(db: Session, url: str) -> Evidence:
    row = db.get(Upload, url.rsplit("/", 1)[1])
    assert row is not None and row.evidence_id is not None
    item = db.get(Evidence, row.evidence_id)
    assert item is not None
    return item


def derived_events(db: Session, evidence_id: str) -> list[dict[str, Any]]:
    query = select(LogEntry.event).where(
        LogEntry.type == "evidence.derived", LogEntry.subject == evidence_id
    )
    return [json.loads(event)["details"] for event in db.scalars(query)]


def wait_derived(db_of: sessionmaker[Session], urls: list[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db_of() as db:
            if all(item_of(db, url).media_info is not None for url in urls):
                return
        time.sleep(0.1)
    raise AssertionError("media work did not finish")


def send(server: Server, auth: dict[str, str], data: bytes, name: str) -> tuple[str, float]:
    """The file through tus in one PATCH (asserted 204: acknowledged); that PATCH's seconds."""
    with httpx.Client(base_url=server.url, timeout=120) as http:
        started = time.monotonic()
        url = upload(http, auth, data, name=name, chunk=len(data))
        return url, time.monotonic() - started


def test_hostile_media_is_parsed_apart_and_marked_unreadable(tmp_path: Path, video: Path) -> None:
    hostile = corpus(tmp_path, video)
    data = tmp_path / "data"
    server = Server(data).start()
    db_of = sessions(data)
    try:
        assert server.proc is not None
        with httpx.Client(base_url=server.url) as http:
            _, token = new_submission(http)
        auth = {"Authorization": f"Bearer {token}"}
        # Warm up (first requests import and cache): idle is the server after one normal file.
        normal, _ = send(server, auth, video.read_bytes(), "normal.mp4")
        wait_derived(db_of, [normal])
        time.sleep(0.5)
        idle = rss(server.proc.pid)

        with peak_rss(server.proc.pid) as peak:
            urls = {name: send(server, auth, body, name)[0] for name, body in hostile.items()}
            wait_derived(db_of, list(urls.values()))
        assert peak[0] - idle <= RSS_MARGIN, f"RSS {idle / MiB:.0f} -> {peak[0] / MiB:.0f} MiB"

        with db_of() as db:
            for name, url in urls.items():
                item = item_of(db, url)
                assert item.media_info is not None and item.media_info.get("unreadable"), name
                assert item.thumbnail_key is None and item.media_attempts == 1
                (details,) = derived_events(db, item.id)
                assert details["metadata"] == "unreadable" and details["reason"], name
            assert item_of(db, normal).media_info.get("width") == 640  # type: ignore[union-attr]
    finally:
        server.stop()


def test_a_parser_that_hangs_is_cut_off_and_never_retried(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=1, size="160x120")
    data = tmp_path / "data"
    # Any parse outlasts 10 ms: the child is killed as a hanging parser would be.
    server = Server(data, env={"PORTAL_MEDIA_TIMEOUT": "0.01"}).start()
    db_of = sessions(data)
    try:
        with httpx.Client(base_url=server.url) as http:
            _, token = new_submission(http)
        auth = {"Authorization": f"Bearer {token}"}
        hung, _ = send(server, auth, clip.read_bytes(), "hang.mp4")
        wait_derived(db_of, [hung])
        with db_of() as db:
            item = item_of(db, hung)
            assert item.media_info == {
                "error": "the parser took longer than 0.01 s",
                "unreadable": True,
            }
            hung_id = item.id

        # A run a stopped server began and never finished, at its last allowed attempt.
        server.stop()
        with db_of.begin() as db:
            db.execute(
                update(Evidence)
                .where(Evidence.id == hung_id)
                .values(media_info=null(), media_attempts=3, media_started_at=datetime.now(UTC))
            )
        stranded = hung_id
        for _ in range(2):  # each later start: marked once, then left alone
            server.start()
            server.stop()
        with db_of() as db:
            again = db.get(Evidence, stranded)
            assert again is not None and again.media_attempts == 4
            assert again.media_info == {
                "error": "no run finished in 3 attempts",
                "unreadable": True,
            }
            assert [d["metadata"] for d in derived_events(db, stranded)] == ["unreadable"] * 2
    finally:
        server.stop()
