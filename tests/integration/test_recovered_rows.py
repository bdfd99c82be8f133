"""`custody recover` rebuilds the rows of received items from their logged events, on both
database backends: here the rows are removed by hand, as an older backup would lack them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.custody.events import EventType
from portal.custody.models import LogEntry
from portal.db import transaction
from portal.evidence.models import Evidence
from portal.flows.recovered_rows import rebuild_rows
from portal.jobs.models import Job
from portal.submissions.models import Consent, Submission
from portal.uploads.models import Upload
from tests.support.api import runtime
from tests.support.uploads import padded, upload

pytestmark = pytest.mark.both_backends


def _items(db: Session, sub_id: str) -> dict[str, tuple[object, ...]]:
    fields = "upload_id filename size sha256 media_type storage_key log_index received_at"
    return {
        e.id: tuple(getattr(e, f) for f in fields.split())
        for e in db.scalars(select(Evidence).where(Evidence.submission_id == sub_id))
    }


def test_rows_come_back_as_far_as_the_events_allow(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    sub_id, auth = witness
    upload(client, auth, video.read_bytes(), name="IMG_0001.mp4")
    upload(client, auth, padded(video, video.stat().st_size + 64), name="IMG_0002.mp4")
    rt = runtime(client)
    with rt.sessions() as db:
        before = _items(db, sub_id)
        consent = db.scalars(select(Consent).where(Consent.submission_id == sub_id)).one()
        kept = (consent.version, consent.sha256, consent.scopes, consent.language)
    assert len(before) == 2
    with transaction(rt.sessions) as db:
        items = select(Evidence.id).where(Evidence.submission_id == sub_id)
        db.execute(delete(Job).where(Job.evidence_id.in_(items)))
        db.execute(delete(Evidence).where(Evidence.submission_id == sub_id))
        db.execute(delete(Upload).where(Upload.submission_id == sub_id))
        db.execute(delete(Consent).where(Consent.submission_id == sub_id))
        db.execute(delete(Submission).where(Submission.id == sub_id))
    with transaction(rt.sessions) as db:
        entries = list(db.scalars(select(LogEntry).order_by(LogEntry.seq)))
        rebuilt = rebuild_rows(db, restored=entries, storage=rt.storage, now=rt.clock())
    assert [r.kind for r in rebuilt] == ["submission", "evidence", "evidence"]
    with rt.sessions() as db:
        after = _items(db, sub_id)
        # Everything but the file name, which the log holds only as a salted commitment.
        assert {k: (v[0], "", *v[2:]) for k, v in before.items()} == after
        consent = db.scalars(select(Consent).where(Consent.submission_id == sub_id)).one()
        assert (consent.version, consent.sha256, consent.scopes, consent.language) == kept
        logged = db.scalars(
            select(LogEntry.subject).where(LogEntry.type == str(EventType.LOG_ITEM_RECOVERED))
        ).all()
        assert sorted(logged) == sorted([sub_id, *before])
    # The witness's old token is not in the log, so it no longer opens the submission.
    assert client.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).status_code == 401
    # Run again: nothing is rebuilt twice.
    with transaction(rt.sessions) as db:
        entries = list(db.scalars(select(LogEntry).order_by(LogEntry.seq)))
        assert rebuild_rows(db, restored=entries, storage=rt.storage, now=rt.clock()) == []
