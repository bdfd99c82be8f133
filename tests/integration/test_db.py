"""Read-only sessions: lookups that do not queue behind writers, and cannot write."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from portal.db import transaction
from portal.runtime import Runtime
from portal.submissions.models import Submission
from tests.support.api import new_submission

pytestmark = pytest.mark.both_backends


def runtime(client: TestClient) -> Runtime:
    rt: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return rt


def test_a_lookup_does_not_wait_for_a_writer(client: TestClient) -> None:
    rt = runtime(client)
    new_submission(client)
    with transaction(rt.sessions) as writer:
        # The writer holds SQLite's write lock (BEGIN IMMEDIATE) and has changed a row.
        writer.execute(update(Submission).values(status=Submission.status))
        with rt.readers() as reader:
            # Were the lookup to take the write lock too, it would wait here for the busy
            # timeout and fail with "database is locked".
            assert reader.scalar(select(func.count()).select_from(Submission)) == 1


def test_a_read_only_session_refuses_to_write(client: TestClient) -> None:
    rt = runtime(client)
    sub_id, _ = new_submission(client)
    with rt.readers() as db, pytest.raises(RuntimeError, match="read-only"):
        db.execute(update(Submission).values(status="withdrawn"))
    with rt.readers() as db:
        sub = db.get(Submission, sub_id)
        assert sub is not None
        sub.status = "withdrawn"
        with pytest.raises(RuntimeError, match="read-only"):
            db.flush()
    with rt.sessions() as db:
        sub = db.get(Submission, sub_id)
        assert sub is not None and sub.status != "withdrawn"
