"""Witness receipts: everything needed to prove, offline, what was given and when.

The consent with its `consent.given` event, and for each file its `upload.completed` event,
each with its leaf index and an inclusion proof against one signed checkpoint.
`portal.custody.receipt.verify_receipt` checks every shown field against those proven events
with the log's public key alone.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody import timestamp
from portal.custody.events import EventType
from portal.custody.models import Checkpoint
from portal.custody.receipt import RECEIPT_FORMAT
from portal.submissions import service as submissions
from portal.submissions.models import Submission


def _proven(db: Session, *, seq: int, checkpoint: Checkpoint) -> dict[str, Any]:
    """An event's bytes, leaf index and inclusion proof under the checkpoint."""
    proof = custody.inclusion(db, index=seq, size=checkpoint.size)
    return {
        "event": custody.entry(db, seq=seq).event.decode("utf-8"),
        "leaf_index": seq,
        "inclusion_proof": [base64.b64encode(h).decode() for h in proof],
    }


def _consent_seq(db: Session, *, submission: Submission) -> int:
    event = custody.first_event(db, type=EventType.CONSENT_GIVEN, subject=submission.id)
    return event.seq


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
    files = [
        {
            # The name and the salt that open its commitment in the event; both null once
            # erased at withdrawal.
            "name": item.filename if item.name_salt or item.filename else None,
            "name_salt": item.name_salt,
            "size": item.size,
            "sha256": item.sha256,
            "media_type": item.media_type,
            "received_at": custody.rfc3339(as_utc(item.received_at)),
            **_proven(db, seq=item.log_index, checkpoint=checkpoint),
        }
        for item in submissions.files_of(db, submission_id=submission.id)
    ]
    body = {
        "format": RECEIPT_FORMAT,
        "submission": submission.id,
        # Not signed: the verifier reports it as not verified.
        "issued_at": custody.rfc3339(now),
        "consent": {
            "version": consent.version,
            "sha256": consent.sha256,
            "scopes": consent.scopes,
            "language": consent.language,
            "given_at": custody.rfc3339(as_utc(consent.given_at)),
            **_proven(db, seq=_consent_seq(db, submission=submission), checkpoint=checkpoint),
        },
        "log": {"origin": origin, "public_key": public_key},
        "checkpoint": checkpoint.note,
        "files": files,
    }
    # Once the TSA has answered (after the commit, or a later sweep): when it existed.
    stamp = timestamp.of(db, checkpoint=checkpoint)
    if stamp is not None:
        body["timestamp"] = stamp
    return body


def covering_checkpoint(db: Session, *, submission: Submission) -> Checkpoint | None:
    """The newest checkpoint, if it covers the consent and every file of the submission."""
    latest = custody.latest_checkpoint(db)
    needed = max(
        (f.log_index for f in submissions.files_of(db, submission_id=submission.id)),
        default=_consent_seq(db, submission=submission),
    )
    if latest is None or latest.size <= needed:
        return None
    return latest
