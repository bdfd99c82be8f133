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

from portal.auth.witness import CANONICAL_RE, canonical, grouped
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody import timestamp
from portal.custody.events import EventType
from portal.custody.models import Checkpoint
from portal.custody.receipt import RECEIPT_FORMAT
from portal.submissions import service as submissions
from portal.submissions.models import Submission
from portal.uploads.models import UploadState


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


def status_address(public_url: str) -> str:
    """Where a witness checks on a submission with the receipt code."""
    return public_url.rstrip("/") + "/web/status"


def for_the_witness(
    db: Session, *, submission: Submission, token: str, public_url: str
) -> dict[str, Any]:
    """What the printed receipt shows beside the proofs, for the file the witness keeps: the
    receipt code (the witness's own secret, which the PDF prints too), the status address and
    the uploads not finished yet. Nothing signs these; the verifier says so."""
    readable = CANONICAL_RE.fullmatch(canonical(token))
    return {
        # A code given before the readable ones was `<submission id>.<token>`.
        "code": grouped(token) if readable else f"{submission.id}.{token}",
        "status_url": status_address(public_url),
        "unfinished": [
            {"name": u.filename, "percent": int(100 * u.offset / u.length) if u.length else 0}
            for u in submissions.uploads_of(db, submission_id=submission.id)
            if u.status == UploadState.ACTIVE
        ],
    }
