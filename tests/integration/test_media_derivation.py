"""Media work after receipt: claimed once, run apart, recorded once, retried a bounded number
of times; on SQLite + local storage and PostgreSQL + S3."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import null, select, update

from portal.auth.service import add_user
from portal.custody.models import LogEntry
from portal.db import transaction
from portal.evidence.models import Evidence
from portal.flows import receipt
from portal.runtime import Runtime
from portal.storage import StorageUnavailable
from portal.uploads.models import Upload
from tests.support.api import PASSWORD, runtime
from tests.support.hostile_media import jpeg_claiming
from tests.support.uploads import upload
from tests.support.web import csrf_of

pytestmark = pytest.mark.both_backends


def received(rt: Runtime, url: str) -> Evidence:
    with rt.sessions() as db:
        row = db.get(Upload, url.rsplit("/", 1)[1])
        assert row is not None and row.evidence_id is not None
        item = db.get(Evidence, row.evidence_id)
        assert item is not None
        return item


def derived(rt: Runtime, evidence_id: str) -> list[dict[str, Any]]:
    with rt.sessions() as db:
        events = db.scalars(
            select(LogEntry.event).where(
                LogEntry.type == "evidence.derived", LogEntry.subject == evidence_id
            )
        )
        return [json.loads(e)["details"] for e in events]


def strand(rt: Runtime, evidence_id: str, *, attempts: int, started_ago: timedelta) -> None:
    """As a server stopped mid-run leaves it: claimed, never recorded."""
    with rt.sessions.begin() as db:
        db.execute(
            update(Evidence)
            .where(Evidence.id == evidence_id)
            .values(
                media_info=null(),
                thumbnail_key=None,
                media_attempts=attempts,
                media_started_at=rt.clock() - started_ago,
            )
        )


def test_an_upload_is_derived_once(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    rt = runtime(client)
    item = received(rt, upload(client, witness[1], video.read_bytes()))
    assert item.media_info is not None and item.media_info["width"] == 640
    assert item.media_attempts == 1 and item.thumbnail_key is not None
    (details,) = derived(rt, item.id)
    assert details["metadata"] is True and details["thumbnail"]["key"] == item.thumbnail_key
    assert receipt.derive_media(rt, item.id) is False  # done: nothing to do
    assert len(derived(rt, item.id)) == 1


def test_hostile_media_is_recorded_unreadable(
    client: TestClient, witness: tuple[str, dict[str, str]]
) -> None:
    rt = runtime(client)
    data = jpeg_claiming(65000, 65000)
    item = received(rt, upload(client, witness[1], data, name="big.jpg"))
    assert item.media_info is not None and item.media_info["unreadable"] is True
    assert "over the media limits" in item.media_info["error"]
    (details,) = derived(rt, item.id)
    assert details["metadata"] == "unreadable" and details["reason"] == item.media_info["error"]
    # S3: the child parses a private copy (it has no credentials); local: the file in place.
    assert details["bytes_read"] in (0, len(data))


def test_the_staff_page_says_unreadable_in_both_languages(
    client: TestClient, witness: tuple[str, dict[str, str]]
) -> None:
    rt = runtime(client)
    item = received(rt, upload(client, witness[1], jpeg_claiming(65000, 65000), name="big.jpg"))
    with transaction(rt.sessions) as db:
        add_user(db, name="ines", role="investigator", password=PASSWORD, now=rt.clock())
    web = TestClient(client.app, base_url="https://testserver")
    login = {"csrf": csrf_of(web, "/web/staff/login"), "username": "ines", "password": PASSWORD}
    assert web.post("/web/staff/login", data=login, follow_redirects=False).status_code == 303
    spanish = web.get(f"/web/staff/evidence/{item.id}").text
    assert "Ilegible: no se pudieron leer" in spanish and "over the media limits" in spanish
    english = web.get(f"/web/staff/evidence/{item.id}?lang=en").text
    assert "Unreadable: no metadata or poster" in english


def test_a_run_in_progress_elsewhere_is_left_alone_until_it_is_stale(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    rt = runtime(client)
    item = received(rt, upload(client, witness[1], video.read_bytes()))
    strand(rt, item.id, attempts=1, started_ago=timedelta(seconds=5))
    assert receipt.derive_media(rt, item.id) is False
    assert receipt.finish_media(rt) == 0
    assert received(rt, item_url(rt, item.id)).media_attempts == 1

    stale = rt.settings.media_timeout * 2 + timedelta(seconds=61)
    strand(rt, item.id, attempts=1, started_ago=stale)
    assert receipt.derive_media(rt, item.id) is True
    again = received(rt, item_url(rt, item.id))
    assert again.media_attempts == 2 and again.media_info is not None
    assert again.media_info["width"] == 640


def test_a_start_takes_over_a_stopped_run_but_not_forever(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    rt = runtime(client)
    item = received(rt, upload(client, witness[1], video.read_bytes()))
    limit = rt.settings.media_max_attempts

    strand(rt, item.id, attempts=limit - 1, started_ago=timedelta(0))
    assert receipt.finish_receipts(rt) == 1  # a start: the stopped run is taken over
    taken = received(rt, item_url(rt, item.id))
    assert taken.media_attempts == limit and taken.media_info is not None
    assert taken.media_info["width"] == 640

    strand(rt, item.id, attempts=limit, started_ago=timedelta(0))
    assert receipt.finish_receipts(rt) == 1
    given_up = received(rt, item_url(rt, item.id))
    assert given_up.media_info == {
        "error": f"no run finished in {limit} attempts",
        "unreadable": True,
    }
    assert receipt.finish_receipts(rt) == 0  # and never again
    assert [d["metadata"] for d in derived(rt, item.id)] == [True, True, "unreadable"]


def item_url(rt: Runtime, evidence_id: str) -> str:
    with rt.sessions() as db:
        upload_id = db.scalar(select(Upload.id).where(Upload.evidence_id == evidence_id))
    return f"/api/v1/uploads/{upload_id}"


class Unreachable:
    """The portal's storage, except that reading an object fails, as during an outage."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Any:
        raise StorageUnavailable("backend went away")


def test_a_storage_outage_does_not_count_against_the_file(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    rt = runtime(client)
    item = received(rt, upload(client, witness[1], video.read_bytes()))
    strand(rt, item.id, attempts=rt.settings.media_max_attempts - 1, started_ago=timedelta(days=1))
    healthy = rt.storage
    rt.storage = Unreachable(healthy)
    try:
        for _ in range(3):
            assert receipt.derive_media(rt, item.id) is False
    finally:
        rt.storage = healthy
    waiting = received(rt, item_url(rt, item.id))
    assert waiting.media_info is None and waiting.media_started_at is None
    assert waiting.media_attempts == rt.settings.media_max_attempts - 1
    assert receipt.derive_media(rt, item.id) is True
    done = received(rt, item_url(rt, item.id))
    assert done.media_info is not None and done.media_info["width"] == 640
