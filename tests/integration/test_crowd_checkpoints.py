"""Files finished together share their checkpoint, and each receipt is still proven by one.

Signing a checkpoint per received file (twice: at the receipt and after the media work) made a
crowd of finishing witnesses queue behind one another; now the final PATCH asks for a signing
round and the receipt waits for the round that covers its files.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from portal.app import create_app
from portal.config import Settings
from portal.custody.models import Checkpoint
from portal.custody.receipt import verify_receipt
from tests.support.api import new_submission, runtime
from tests.support.uploads import padded, upload

pytestmark = pytest.mark.both_backends

FILES = 6


def _checkpoints(client: TestClient) -> int:
    with runtime(client).sessions() as db:
        return int(db.scalar(select(func.count()).select_from(Checkpoint)) or 0)


def test_files_finished_together_share_a_checkpoint_and_every_receipt_is_proven(
    settings: Settings, video: Path
) -> None:
    # A long round: every file after the first one falls into the same next round.
    s = settings.model_copy(update={"checkpoint_batch_interval": timedelta(seconds=60)})
    with TestClient(create_app(s)) as c:
        before = _checkpoints(c)
        witnesses = []
        for n in range(FILES):
            sub_id, token = new_submission(c)
            auth = {"Authorization": f"Bearer {token}"}
            upload(c, auth, padded(video, video.stat().st_size + 64 + n))
            witnesses.append((sub_id, auth))
        # The first file's round signed at once (the thread may still be at it); the others
        # wait for the next round, which the drain runs without its pause.
        during = _checkpoints(c) - before
        assert during <= 1, f"{during} checkpoints signed while {FILES} files finished"
        runtime(c).checkpoints.drain(60)
        signed = _checkpoints(c) - before
        assert 1 <= signed <= 2, f"{signed} checkpoints for {FILES} files"
        key = c.get("/api/v1/log/public-key").text.strip()
        for sub_id, auth in witnesses:
            r = c.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth)
            assert r.status_code == 200, r.text
            report = verify_receipt(r.json(), key)
            assert report.ok, report.text()
        # The receipts needed no signing of their own: the round covered their files.
        assert _checkpoints(c) - before == signed
