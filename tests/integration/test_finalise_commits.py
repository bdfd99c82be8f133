"""A finished upload costs one durable commit, and nothing it needs waits for a second one.

Regression: finalise committed the upload's completion and the evidence row, then a second
transaction set the retention date and queued the derivation job. Under a crowd every extra
commit is one more wait for the single SQLite writer, and a crash between the two left an
acknowledged item without its date or job until the next start.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from portal.app import create_app
from portal.config import Settings
from portal.evidence.models import Evidence
from portal.flows import finalise, receipt
from portal.jobs.models import Job, JobKind
from portal.runtime import Runtime
from tests.support.api import new_submission, runtime
from tests.support.uploads import upload

pytestmark = pytest.mark.both_backends


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def test_finalise_makes_one_commit(
    client: TestClient, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(client)
    counted: list[int] = []
    inside: set[int] = set()

    def on_commit(conn: Any) -> None:
        if threading.get_ident() in inside:  # not the signing thread's commits
            counted.append(1)

    original = finalise.finalise

    def counting(rt_: Runtime, **kwargs: Any) -> Evidence | None:
        inside.add(threading.get_ident())
        try:
            return original(rt_, **kwargs)
        finally:
            inside.discard(threading.get_ident())

    monkeypatch.setattr(finalise, "finalise", counting)
    event.listen(rt.engine, "commit", on_commit)
    try:
        _, token = new_submission(client)
        upload(client, {"Authorization": f"Bearer {token}"}, video.read_bytes())
    finally:
        event.remove(rt.engine, "commit", on_commit)
    assert len(counted) == 1, f"{len(counted)} commits to finalise one upload"


def test_date_and_job_are_committed_with_the_receipt(
    client: TestClient, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a crash right after finalise's commit leaves: the item already has both."""
    rt = runtime(client)
    seen: list[tuple[str | None, list[str]]] = []
    original = receipt.after_receipt

    def look_first(rt_: Runtime, evidence_id: str, **kwargs: Any) -> None:
        with rt.sessions() as db:
            item = db.get(Evidence, evidence_id)
            assert item is not None
            kinds = list(db.scalars(select(Job.kind).where(Job.evidence_id == evidence_id)))
            seen.append((item.retention_category, kinds))
        original(rt_, evidence_id, **kwargs)

    monkeypatch.setattr(receipt, "after_receipt", look_first)
    _, token = new_submission(client)
    upload(client, {"Authorization": f"Bearer {token}"}, video.read_bytes())
    [(category, kinds)] = seen
    assert category is not None
    assert JobKind.DERIVE in kinds
