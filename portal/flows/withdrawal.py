"""A witness withdraws consent: the API route and the witness's status page both come here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from portal.db import transaction
from portal.retention import service as retention
from portal.submissions import service as submissions
from portal.submissions.models import Submission, SubmissionState
from portal.uploads.service import Deps as UploadDeps
from portal.uploads.service import terminate_all


def withdraw(
    sessions: sessionmaker[Session],
    ctx: retention.Context,
    uploads: UploadDeps,
    *,
    submission_id: str,
    now: datetime,
    repeat_ok: bool = False,
) -> Submission:
    """Withdraw consent; files no hold or case needs are destroyed after the grace period.

    The consent, its custody event and every file's new retention date commit together. A
    second withdrawal is a conflict unless `repeat_ok` (a form sent twice), which only
    finishes the uploads' part."""
    with transaction(sessions) as db:
        sub = submissions.authenticate_id(db, submission_id=submission_id)
        if not (repeat_ok and sub.status == SubmissionState.WITHDRAWN):
            submissions.withdraw_consent(db, submission=sub, now=now)
            retention.recompute_submission(
                db, ctx, submission_id=sub.id, reason="consent withdrawn", now=now
            )
    # Unfinished uploads can no longer complete; their partial bytes go now, once the
    # withdrawal is committed.
    terminate_all(uploads, submission_id=submission_id, reason="consent withdrawn")
    return sub
