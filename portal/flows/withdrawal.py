"""A witness withdraws consent: the API route and the witness's status page both come here."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session, sessionmaker

from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.db import transaction
from portal.evidence.models import Evidence
from portal.retention import service as retention
from portal.submissions import service as submissions
from portal.submissions.models import Submission, SubmissionState
from portal.uploads.models import Upload
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

    The consent, its custody event, every file's new retention date and the erasure of the
    file names commit together. A
    second withdrawal is a conflict unless `repeat_ok` (a form sent twice), which only
    finishes the uploads' part."""
    with transaction(sessions) as db:
        sub = submissions.authenticate_id(db, submission_id=submission_id)
        if not (repeat_ok and sub.status == SubmissionState.WITHDRAWN):
            submissions.withdraw_consent(db, submission=sub, now=now)
            retention.recompute_submission(
                db, ctx, submission_id=sub.id, reason="consent withdrawn", now=now
            )
            erase_names(db, submission_id=sub.id, now=now)
    # Unfinished uploads can no longer complete; their partial bytes go now, once the
    # withdrawal is committed.
    terminate_all(uploads, submission_id=submission_id, reason="consent withdrawn")
    return sub


def erase_names(db: Session, *, submission_id: str, now: datetime) -> None:
    """Erase the witness's file names and the salts of their commitments, and log it.

    The log keeps only the commitments, which nothing can open once the salts are gone;
    every proof over those events still holds."""
    erased = {"filename": "", "name_salt": None}
    counts = {
        name: cast(
            "CursorResult[Any]",
            db.execute(update(model).where(model.submission_id == submission_id).values(**erased)),
        ).rowcount
        for name, model in (("evidence", Evidence), ("uploads", Upload))
    }
    custody.append(
        db,
        type=EventType.SUBMISSION_NAMES_ERASED,
        actor=Actor.witness(submission_id),
        subject=submission_id,
        details=counts,
        at=now,
    )
