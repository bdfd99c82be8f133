"""Rows a restored database lost, rebuilt from the custody events the recovered log holds.

Only what the events carry comes back (docs/custody-log.md says exactly what): a submission
from its `consent.given` and `submission.created`, an item from its `evidence.received` and
the `upload.completed` the witness's receipt proves. Each rebuilt row is logged as
`log.item_recovered` in the transaction that adds it, naming the entries it came from.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.custody import service as custody
from portal.custody.events import EventType
from portal.custody.models import LogEntry
from portal.evidence.models import Evidence
from portal.requests.models import EvidenceRequest
from portal.storage import Storage
from portal.submissions.models import Consent, Submission, SubmissionState


@dataclass(frozen=True)
class Rebuilt:
    """A row put back: `kind` is "submission" or "evidence"."""

    kind: str
    id: str
    entries: tuple[int, ...]


def _details(entry: LogEntry) -> dict[str, Any]:
    details: dict[str, Any] = json.loads(entry.event)["details"]
    return details


def _first(db: Session, type: EventType, subject: str) -> LogEntry | None:
    return db.scalars(
        select(LogEntry)
        .where(LogEntry.type == str(type), LogEntry.subject == subject)
        .order_by(LogEntry.seq)
    ).first()


def _log(db: Session, row: Rebuilt, now: datetime) -> Rebuilt:
    custody.append(
        db,
        type=EventType.LOG_ITEM_RECOVERED,
        actor=custody.SYSTEM,
        subject=row.id,
        details={"kind": row.kind, "from_entries": list(row.entries)},
        at=now,
    )
    return row


def _submission(db: Session, sub_id: str, now: datetime) -> Rebuilt | None:
    """The submission and its consent, unless the log lacks either event."""
    given = _first(db, EventType.CONSENT_GIVEN, sub_id)
    created = _first(db, EventType.SUBMISSION_CREATED, sub_id)
    if given is None or created is None:
        return None
    consent, opened = _details(given), _details(created)
    request = opened.get("request")
    withdrawn = _first(db, EventType.CONSENT_WITHDRAWN, sub_id)
    db.add(
        Submission(
            id=sub_id,
            created_at=created.at,
            # The witness's token is not in the log: this hash matches no token anyone holds.
            token_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
            status=SubmissionState.WITHDRAWN if withdrawn else SubmissionState.OPEN,
            language=consent["language"],
            request_id=request if request and db.get(EvidenceRequest, request) else None,
        )
    )
    db.flush()
    db.add(
        Consent(
            id=secrets.token_hex(16),
            submission_id=sub_id,
            version=consent["version"],
            sha256=consent["sha256"],
            scopes=list(consent["scopes"]),
            language=consent["language"],
            given_at=given.at,
            withdrawn_at=withdrawn.at if withdrawn else None,
        )
    )
    seqs = (given.seq, created.seq) + ((withdrawn.seq,) if withdrawn else ())
    return _log(db, Rebuilt("submission", sub_id, seqs), now)


def _completed(db: Session, received: LogEntry, sub_id: str, sha256: str) -> LogEntry | None:
    """The `upload.completed` an `evidence.received` records: same submission and SHA-256,
    logged before it, of an upload no other row already claims."""
    candidates = db.scalars(
        select(LogEntry)
        .where(
            LogEntry.type == str(EventType.UPLOAD_COMPLETED),
            LogEntry.subject == sub_id,
            LogEntry.seq < received.seq,
        )
        .order_by(LogEntry.seq)
    )
    for entry in candidates:
        details = _details(entry)
        if details["sha256"] != sha256:
            continue
        if db.scalar(select(Evidence.id).where(Evidence.upload_id == details["upload"])) is None:
            return entry
    return None


def _evidence(db: Session, storage: Storage, received: LogEntry, now: datetime) -> list[Rebuilt]:
    """The item an `evidence.received` records (and its submission), if its original is
    still in storage and the log holds what its row needs."""
    item_id, details = received.subject, _details(received)
    if db.get(Evidence, item_id) is not None or _first(db, EventType.EVIDENCE_PURGED, item_id):
        return []
    if not storage.exists(details["storage_key"]):
        return []
    sub_id = details["submission"]
    done: list[Rebuilt] = []
    if db.get(Submission, sub_id) is None:
        sub = _submission(db, sub_id, now)
        if sub is None:
            return []
        done.append(sub)
    completed = _completed(db, received, sub_id, details["sha256"])
    if completed is None:
        return done
    upload = _details(completed)
    db.add(
        Evidence(
            id=item_id,
            submission_id=sub_id,
            upload_id=upload["upload"],
            # Events before name commitments hold the name; later ones only its commitment,
            # which cannot be opened without the salt the lost row held: the name is gone.
            filename=upload.get("filename", ""),
            name_salt=None,
            size=details["size"],
            sha256=details["sha256"],
            media_type=details["media_type"],
            received_at=received.at,
            storage_key=details["storage_key"],
            log_index=completed.seq,
        )
    )
    db.flush()
    done.append(_log(db, Rebuilt("evidence", item_id, (completed.seq, received.seq)), now))
    return done


def rebuild_rows(
    db: Session, *, restored: Sequence[LogEntry], storage: Storage, now: datetime
) -> list[Rebuilt]:
    """Rebuild the rows of items received in the `restored` entries that `db` lacks."""
    done: list[Rebuilt] = []
    for entry in restored:
        if entry.type == str(EventType.EVIDENCE_RECEIVED):
            done += _evidence(db, storage, entry, now)
    return done
