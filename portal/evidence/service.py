"""Investigator work on evidence: queue, detail, triage, timeline (playbacks: playbacks.py).

Every function that shows evidence bytes or metadata appends its custody event in the
caller's transaction, before anything is returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.cases.models import Case, CaseLink
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.errors import Gone, Invalid, NotFound
from portal.evidence.models import Disposition, Evidence
from portal.ids import new_id
from portal.keys import ContactCipher
from portal.submissions.models import Consent, Submission

SORTS: dict[str, ColumnElement[Any]] = {
    "received_at": Evidence.received_at.asc(),
    "-received_at": Evidence.received_at.desc(),
    "size": Evidence.size.asc(),
    "-size": Evidence.size.desc(),
    "filename": Evidence.filename.asc(),
}


@dataclass(frozen=True, kw_only=True)  # many optional fields of one type: by name only
class QueueFilter:
    status: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    case_id: str | None = None
    media_type: str | None = None
    text: str | None = None  # words in the file name or the incident's place or description
    request_id: str | None = None  # what arrived through one evidence request


def get(db: Session, *, evidence_id: str) -> Evidence:
    item = db.get(Evidence, evidence_id)
    if item is None:
        raise NotFound("no such evidence item")
    return item


def get_live(db: Session, *, evidence_id: str) -> Evidence:
    """An item whose original still exists; 410 once it was destroyed."""
    item = get(db, evidence_id=evidence_id)
    if item.disposition == Disposition.PURGED:
        raise Gone("the item was destroyed under its retention rule; a tombstone remains")
    return item


def case_ids(db: Session, *, evidence_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {e: [] for e in evidence_ids}
    if evidence_ids:
        for case_id, ev in db.execute(
            select(CaseLink.case_id, CaseLink.evidence_id).where(
                CaseLink.evidence_id.in_(evidence_ids)
            )
        ):
            out[ev].append(case_id)
    return out


def queue(
    db: Session,
    *,
    user: StaffUser,
    filters: QueueFilter,
    sort: str,
    page: int,
    per_page: int,
    now: datetime,
) -> tuple[list[Evidence], int]:
    query = select(Evidence).where(
        or_(Evidence.disposition.is_(None), Evidence.disposition != Disposition.PURGED)
    )
    # SQLite compares stored UTC wall-clock text: the bounds must be UTC too.
    since = as_utc(filters.received_from).astimezone(UTC) if filters.received_from else None
    until = as_utc(filters.received_to).astimezone(UTC) if filters.received_to else None
    if filters.status:
        query = query.where(Evidence.status == filters.status)
    if since:
        query = query.where(Evidence.received_at >= since)
    if until:
        query = query.where(Evidence.received_at < until)
    if filters.media_type:
        # "video" matches every video/*; "video/mp4" matches exactly.
        if "/" in filters.media_type:
            query = query.where(Evidence.media_type == filters.media_type)
        else:
            query = query.where(Evidence.media_type.like(f"{filters.media_type}/%"))
    if filters.text:
        # Incident text is sealed (portal.sealed): the database cannot search it, and opening
        # every witness's text to filter a list would be a look nobody chose. Search covers
        # the file name and the item's own id and hash; the incident opens per item, logged.
        like = (
            "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(
                Evidence.filename.ilike(like, escape="\\"),
                Evidence.id == filters.text,
                Evidence.sha256 == filters.text.lower(),
            )
        )
    if filters.case_id:
        query = query.join(CaseLink, CaseLink.evidence_id == Evidence.id).where(
            CaseLink.case_id == filters.case_id
        )
    if filters.request_id:
        query = query.join(Submission, Submission.id == Evidence.submission_id).where(
            Submission.request_id == filters.request_id
        )
    if sort not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(SORTS)}", code="bad_sort")
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(
        db.scalars(
            query.order_by(SORTS[sort], Evidence.id).offset((page - 1) * per_page).limit(per_page)
        )
    )
    _listed(db, user=user, items=items, where="queue", now=now)
    return items, total


def _listed(
    db: Session, *, user: StaffUser, items: list[Evidence], where: str, now: datetime
) -> None:
    custody.append(
        db,
        type=EventType.EVIDENCE_LISTED,
        actor=user.actor,
        subject=where,
        details={"items": [e.id for e in items]},
        at=now,
    )


def view(db: Session, *, user: StaffUser, evidence_id: str, now: datetime) -> Evidence:
    item = get(db, evidence_id=evidence_id)
    custody.append(
        db,
        type=EventType.EVIDENCE_VIEWED,
        actor=user.actor,
        subject=item.id,
        details={"sha256": item.sha256},
        at=now,
    )
    return item


def submission_context(db: Session, *, item: Evidence) -> tuple[Submission, Consent]:
    sub = db.get(Submission, item.submission_id)
    consent = db.scalars(
        select(Consent)
        .where(Consent.submission_id == item.submission_id)
        .order_by(Consent.given_at.desc())
    ).first()
    assert sub is not None and consent is not None
    return sub, consent


def triage(
    db: Session,
    *,
    user: StaffUser,
    evidence_id: str,
    decision: str,
    reason: str,
    now: datetime,
    withdrawn_reason: str | None = None,
) -> Evidence:
    """`withdrawn_reason`: why staff keep an item whose witness withdrew consent, in the event."""
    item = get_live(db, evidence_id=evidence_id)
    old = item.status
    item.status = {"accept": "accepted", "decline": "declined"}[decision]
    item.triage_reason = reason
    item.triaged_at = now
    item.triaged_by = user.id
    custody.append(
        db,
        type=EventType.EVIDENCE_TRIAGED,
        actor=user.actor,
        subject=item.id,
        details={"from": old, "to": item.status, "reason": reason}
        | ({"consent_withdrawn_reason": withdrawn_reason} if withdrawn_reason else {}),
        at=now,
    )
    return item


def thumbnail(db: Session, *, user: StaffUser, evidence_id: str, now: datetime) -> str:
    item = get_live(db, evidence_id=evidence_id)
    if not item.thumbnail_key:
        raise NotFound("this item has no thumbnail")
    custody.append(
        db,
        type=EventType.EVIDENCE_THUMBNAIL_VIEWED,
        actor=user.actor,
        subject=item.id,
        details={"key": item.thumbnail_key},
        at=now,
    )
    return item.thumbnail_key


def timeline(
    db: Session, *, user: StaffUser, evidence_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Every event about this item, its submission's consent, and its own upload."""
    item = get(db, evidence_id=evidence_id)
    custody.append(
        db,
        type=EventType.EVIDENCE_TIMELINE_VIEWED,
        actor=user.actor,
        subject=item.id,
        details={},
        at=now,
    )
    events = []
    for entry in custody.events_about(db, subjects=[item.id, item.submission_id]):
        event = json.loads(entry.event)
        upload = event["details"].get("upload")
        if event["type"].startswith("upload.") and upload != item.upload_id:
            continue  # another file of the same submission
        events.append(event)
    return events


def contact(
    db: Session, *, user: StaffUser, evidence_id: str, cipher: ContactCipher, now: datetime
) -> dict[str, Any]:
    item = get(db, evidence_id=evidence_id)
    sub = db.get(Submission, item.submission_id)
    if sub is None or sub.contact_encrypted is None:
        raise NotFound("the witness left no contact details")
    custody.append(
        db,
        type=EventType.WITNESS_CONTACT_VIEWED,
        actor=user.actor,
        subject=sub.id,
        details={"evidence": item.id},
        at=now,
    )
    data: dict[str, Any] = json.loads(cipher.decrypt(sub.contact_encrypted))
    return data


# --- cases ---------------------------------------------------------------------------------


def case_evidence(db: Session, *, user: StaffUser, case: Case, now: datetime) -> list[Evidence]:
    items = list(
        db.scalars(
            select(Evidence)
            .join(CaseLink, CaseLink.evidence_id == Evidence.id)
            .where(CaseLink.case_id == case.id)
            .order_by(Evidence.received_at)
        )
    )
    _listed(db, user=user, items=items, where=case.id, now=now)
    return items


# --- receipt and download ----------------------------------------------------------------------


def record_received(
    db: Session,
    *,
    submission_id: str,
    upload_id: str,
    filename: str,
    name_salt: str | None,
    size: int,
    sha256: str,
    media_type: str,
    storage_key: str,
    log_index: int,
    now: datetime,
) -> Evidence:
    """The evidence row of a finalised upload and its `evidence.received` event.

    `log_index` is the upload's `upload.completed` event, which the witness's receipt proves.
    """
    item = Evidence(
        id=new_id(),
        submission_id=submission_id,
        upload_id=upload_id,
        filename=filename,
        name_salt=name_salt,
        size=size,
        sha256=sha256,
        media_type=media_type,
        received_at=now,
        storage_key=storage_key,
        log_index=log_index,
    )
    db.add(item)
    custody.append(
        db,
        type=EventType.EVIDENCE_RECEIVED,
        actor=Actor.witness(submission_id),
        subject=item.id,
        details={
            "submission": submission_id,
            "sha256": sha256,
            "size": size,
            "media_type": media_type,
            "storage_key": storage_key,
        },
        at=now,
    )
    return item


def record_integrity_failure(
    db: Session, *, item: Evidence, actual_sha256: str, now: datetime
) -> None:
    custody.append(
        db,
        type=EventType.EVIDENCE_INTEGRITY_FAILED,
        actor=custody.SYSTEM,
        subject=item.id,
        details={"expected": item.sha256, "actual": actual_sha256, "key": item.storage_key},
        at=now,
    )


def record_download(db: Session, *, user: StaffUser, item: Evidence, now: datetime) -> None:
    custody.append(
        db,
        type=EventType.EVIDENCE_DOWNLOADED,
        actor=user.actor,
        subject=item.id,
        details={"sha256": item.sha256, "size": item.size},
        at=now,
    )
