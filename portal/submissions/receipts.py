"""Witness receipts: everything needed to prove, offline, what was given and when.

For each file: its `upload.completed` event, the event's leaf index and an inclusion proof
against one signed checkpoint. `portal.custody.offline.verify_receipt` checks it with the
log's public key alone.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.models import Checkpoint
from portal.custody.offline import RECEIPT_FORMAT
from portal.submissions import service as submissions
from portal.submissions.models import Submission


def build(
    db: Session,
    *,
    submission: Submission,
    checkpoint: Checkpoint,
    origin: str,
    public_key: str,
    now: datetime,
) -> dict[str, Any]:
    consent = submissions.consent_of(db, submission_id=submission.id)
    files = []
    for item in submissions.files_of(db, submission_id=submission.id):
        event = custody.entry(db, seq=item.log_index)
        proof = custody.inclusion(db, index=item.log_index, size=checkpoint.size)
        files.append(
            {
                "name": item.filename,
                "size": item.size,
                "sha256": item.sha256,
                "media_type": item.media_type,
                "received_at": custody.rfc3339(as_utc(item.received_at)),
                "event": event.event.decode("utf-8"),
                "leaf_index": item.log_index,
                "inclusion_proof": [base64.b64encode(h).decode() for h in proof],
            }
        )
    return {
        "format": RECEIPT_FORMAT,
        "submission": submission.id,
        "issued_at": custody.rfc3339(now),
        "consent": {
            "version": consent.version,
            "sha256": consent.sha256,
            "scopes": consent.scopes,
            "language": consent.language,
            "given_at": custody.rfc3339(as_utc(consent.given_at)),
        },
        "log": {"origin": origin, "public_key": public_key},
        "checkpoint": checkpoint.note,
        "files": files,
    }


def covering_checkpoint(db: Session, *, submission: Submission) -> Checkpoint | None:
    """The newest checkpoint, if it covers every file of the submission."""
    latest = custody.latest_checkpoint(db)
    needed = max(
        (f.log_index for f in submissions.files_of(db, submission_id=submission.id)), default=-1
    )
    if latest is None or latest.size <= needed:
        return None
    return latest
