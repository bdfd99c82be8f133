"""Redactions: defined by one member of staff, approved by another, rendered by a job.

Every step is a custody event in the transaction of its state change: `redaction.requested`
(the operations, who asked), `redaction.approved` (who approved), and `evidence.derived` with
the whole provenance record once the copy exists (source SHA-256, every operation with its
parameters, the tool and its versions and settings, who asked and who approved, the copy's
SHA-256). The signed log is what proves the provenance: the record a bundle carries must be
the one the log holds.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cases.models import CaseLink
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import Conflict, Invalid, NotFound
from portal.evidence.models import Derivative, Evidence
from portal.ids import new_id
from portal.redactions.models import Purpose, Redaction, RedactionState
from portal.storage import Storage
from portal.storage.layout import derived_key
from portal.submissions.models import Consent

REDACTION = "redaction"
PROVENANCE_FORMAT = "portal-redaction-provenance/1"
TOOL_NAME = "portal redaction (FFmpeg via PyAV, Pillow)"


def get(db: Session, *, redaction_id: str) -> Redaction:
    found = db.get(Redaction, redaction_id)
    if found is None:
        raise NotFound("no such redaction")
    return found


def for_evidence(db: Session, *, evidence_id: str) -> list[Redaction]:
    query = select(Redaction).where(Redaction.evidence_id == evidence_id)
    return list(db.scalars(query.order_by(Redaction.requested_at)))


def ensure_redactable(db: Session, *, item: Evidence) -> None:
    """Refuse (409, with the reason) a copy of an item being destroyed, or of one whose
    witness withdrew consent and that no case keeps."""
    if item.disposition is not None:
        raise Conflict(
            "the item is being destroyed under its retention rule; no copy may be made",
            code="being_destroyed",
        )
    withdrawn = db.scalars(
        select(Consent.withdrawn_at)
        .where(Consent.submission_id == item.submission_id)
        .order_by(Consent.given_at.desc())
    ).first()
    linked = db.scalar(select(CaseLink.case_id).where(CaseLink.evidence_id == item.id).limit(1))
    if withdrawn is not None and linked is None:
        raise Conflict(
            "the witness withdrew consent and no case keeps the item; no copy may be made",
            code="consent_withdrawn",
        )


def check_fits(item: Evidence, operations: list[dict[str, Any]]) -> None:
    """Every operation inside the video: boxes within the picture, times within its length
    (422 naming the first field that is not)."""
    info = item.media_info or {}
    width, height = info.get("width"), info.get("height")
    duration = info.get("duration_seconds")
    if not width or not height or not duration:
        raise Invalid("the item is not a video whose size and length are known", code="not_video")
    for n, op in enumerate(operations):
        at = f"operations[{n}]"
        if op["end"] > duration:
            raise Invalid(f"{at}.end: after the video's end ({duration:g} s)", code="out_of_range")
        if op["type"] != "box":
            continue
        if op["x"] + op["w"] > width:
            raise Invalid(f"{at}.x+w: beyond the picture's width ({width})", code="out_of_range")
        if op["y"] + op["h"] > height:
            raise Invalid(f"{at}.y+h: beyond the picture's height ({height})", code="out_of_range")


def define(
    db: Session,
    *,
    item: Evidence,
    purpose: Purpose,
    operations: list[dict[str, Any]],
    actor: str,
    now: datetime,
) -> Redaction:
    ensure_redactable(db, item=item)
    check_fits(item, operations)
    redaction = Redaction(
        id=new_id(),
        evidence_id=item.id,
        source_sha256=item.sha256,
        purpose=purpose,
        operations=operations,
        state=RedactionState.REQUESTED,
        requested_by=actor,
        requested_at=now,
    )
    db.add(redaction)
    custody.append(
        db,
        type=EventType.REDACTION_REQUESTED,
        actor=actor,
        subject=item.id,
        details={
            "redaction": redaction.id,
            "sha256": item.sha256,
            "purpose": str(purpose),
            "operations": operations,
        },
        at=now,
    )
    return redaction


def approve(
    db: Session, *, redaction: Redaction, item: Evidence, actor: str, now: datetime
) -> None:
    """A second person's approval: never the one who asked (compared by staff id)."""
    if redaction.state != RedactionState.REQUESTED:
        raise Conflict(f"the redaction is {redaction.state}, not awaiting approval", code="state")
    if _staff_id(actor) == _staff_id(redaction.requested_by):
        raise Conflict(
            "a redaction is approved by someone other than who asked", code="same_person"
        )
    ensure_redactable(db, item=item)
    redaction.state, redaction.approved_by, redaction.approved_at = (
        RedactionState.APPROVED,
        actor,
        now,
    )
    custody.append(
        db,
        type=EventType.REDACTION_APPROVED,
        actor=actor,
        subject=item.id,
        details={"redaction": redaction.id, "sha256": item.sha256},
        at=now,
    )


def _staff_id(actor: str) -> str:
    return actor.split(":")[1] if actor.count(":") >= 1 else actor


def store(storage: Storage, *, redaction: Redaction, data: bytes) -> tuple[str, bytes]:
    key = derived_key(redaction.source_sha256, f"redaction-{redaction.id}.mp4")
    if storage.exists(key):
        # Write-once: a run a crash cut short stored it before its row; those bytes stand.
        return key, b"".join(storage.read(key))
    storage.put(key, data)
    return key, data


def claim(redaction: Redaction, *, made_with: dict[str, Any]) -> dict[str, Any]:
    """How the copy was made from its original, before its own hash is known (what a C2PA
    manifest inside the copy carries); `made_with["tool"]` is what the renderer says of
    itself: versions and exact settings."""
    return {
        "format": PROVENANCE_FORMAT,
        "redaction": redaction.id,
        "evidence_id": redaction.evidence_id,
        "source_sha256": redaction.source_sha256,
        "purpose": redaction.purpose,
        "operations": redaction.operations,
        "tool": {"name": TOOL_NAME, **(made_with.get("tool") or {})},
        "requested_by": redaction.requested_by,
        "requested_at": redaction.requested_at.isoformat(),
        "approved_by": redaction.approved_by,
        "approved_at": redaction.approved_at.isoformat() if redaction.approved_at else None,
    }


def provenance(
    redaction: Redaction, *, key: str, data: bytes, made_with: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The whole record, checked by bundle verifiers: the claim, the copy's hash and size, and
    the C2PA manifest embedded in it (when the portal has a C2PA signer)."""
    return {
        **claim(redaction, made_with=made_with),
        **({"c2pa": made_with["c2pa"]} if made_with.get("c2pa") else {}),
        "output": {
            "key": key,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "media_type": "video/mp4",
            "width": made_with.get("width"),
            "height": made_with.get("height"),
        },
        "rendered_at": now.isoformat(),
    }


def record_rendered(
    db: Session,
    *,
    redaction: Redaction,
    key: str,
    data: bytes,
    made_with: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The copy's derivative row, its provenance and custody event (caller's transaction)."""
    record = provenance(redaction, key=key, data=data, made_with=made_with, now=now)
    digest = record["output"]["sha256"]
    if db.get(Derivative, key) is None:
        db.add(
            Derivative(
                key=key,
                source_sha256=redaction.source_sha256,
                kind=REDACTION,
                media_type="video/mp4",
                size=len(data),
                sha256=digest,
                created_at=now,
            )
        )
    redaction.state, redaction.provenance = RedactionState.RENDERED, record
    redaction.output_key, redaction.output_sha256, redaction.output_size = key, digest, len(data)
    custody.append(
        db,
        type=EventType.EVIDENCE_DERIVED,
        actor=custody.SYSTEM,
        subject=redaction.evidence_id,
        details={"sha256": redaction.source_sha256, "redaction": record},
        at=now,
    )
    return record


def record_failed(db: Session, *, redaction: Redaction, reason: str, now: datetime) -> None:
    """A copy that could not be made (after every attempt), said once in the log."""
    redaction.state, redaction.failure = RedactionState.FAILED, reason[:2000]
    custody.append(
        db,
        type=EventType.EVIDENCE_DERIVED,
        actor=custody.SYSTEM,
        subject=redaction.evidence_id,
        details={
            "sha256": redaction.source_sha256,
            "redaction": {"id": redaction.id, "state": "failed", "reason": reason[:500]},
        },
        at=now,
    )


def log_access(
    db: Session, *, redaction: Redaction, actor: str, what: str, now: datetime, **extra: Any
) -> None:
    """A preview or the copy itself was shown to someone."""
    custody.append(
        db,
        type=EventType.REDACTION_VIEWED,
        actor=actor,
        subject=redaction.evidence_id,
        details={
            "redaction": redaction.id,
            "sha256": redaction.source_sha256,
            "what": what,
            **extra,
        },
        at=now,
    )


def release_state(redaction: Redaction) -> dict[str, Any]:
    """What a release request saw, compared again when a second person confirms it."""
    return {
        "state": redaction.state,
        "output_sha256": redaction.output_sha256,
        "released": redaction.released_at is not None,
    }


def ensure_releasable(db: Session, *, redaction: Redaction, item: Evidence) -> None:
    """Only a rendered copy, never released before, of an item whose witness consented to a
    public appeal (and has not withdrawn), that is not being destroyed."""
    if redaction.state != RedactionState.RENDERED:
        raise Conflict(
            f"only a rendered redacted copy can be released; this one is {redaction.state}",
            code="not_rendered",
        )
    if redaction.released_at is not None:
        raise Conflict("this redacted copy was already released", code="already_released")
    if item.disposition is not None:
        raise Conflict("the item is being destroyed", code="being_destroyed")
    consent = db.scalars(
        select(Consent)
        .where(Consent.submission_id == item.submission_id)
        .order_by(Consent.given_at.desc())
    ).first()
    if consent is None or consent.withdrawn_at is not None:
        raise Conflict("the witness withdrew consent", code="consent_withdrawn")
    if "public_appeal" not in consent.scopes:
        raise Conflict(
            "the witness did not consent to a public appeal; nothing may be released",
            code="no_public_appeal",
        )


def mark_released(
    db: Session,
    *,
    redaction: Redaction,
    item: Evidence,
    actor: str,
    request: dict[str, Any],
    now: datetime,
) -> None:
    """The release, logged with the two people (`request`: the change request's id and
    author) in the transaction of the confirmation."""
    ensure_releasable(db, redaction=redaction, item=item)
    redaction.released_at, redaction.released_by = now, actor
    custody.append(
        db,
        type=EventType.REDACTION_RELEASED,
        actor=actor,
        subject=item.id,
        details={
            "redaction": redaction.id,
            "sha256": redaction.source_sha256,
            "output_sha256": redaction.output_sha256,
            "change_request": request,
        },
        at=now,
    )


def log_listing(
    db: Session, *, evidence_id: str, shown: list[Redaction], actor: str, now: datetime
) -> None:
    """An item's redactions were listed (what each hides, who asked, the copies' hashes): a
    look at the item like any other, so it is logged with the ids shown."""
    custody.append(
        db,
        type=EventType.REDACTION_VIEWED,
        actor=actor,
        subject=evidence_id,
        details={"what": "list", "redactions": [r.id for r in shown]},
        at=now,
    )
