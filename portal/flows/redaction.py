"""Redaction: defined on an item, approved by a second person, rendered by a job in the
limited child, previewed and served; each step logged with its state change.

The original is only read: the copy is a derivative under `derived/<source sha256>/` that the
item's destruction removes with it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.changes import service as changes
from portal.changes.models import ChangeKind, ChangeRequest
from portal.db import transaction
from portal.errors import Conflict, Invalid, NotFound
from portal.evidence.models import Derivative, Evidence
from portal.evidence.service import get_live
from portal.jobs import service as jobs
from portal.jobs.models import JobKind
from portal.media import redaction as renderer
from portal.media.isolation import Limits
from portal.redactions import c2pa
from portal.redactions import service as redactions
from portal.redactions.models import Redaction, RedactionState
from portal.redactions.schemas import RedactionIn
from portal.runtime import Runtime


def define(
    db: Session, *, user: StaffUser, evidence_id: str, body: RedactionIn, rt: Runtime
) -> Redaction:
    item = get_live(db, evidence_id=evidence_id)
    return redactions.define(
        db,
        item=item,
        purpose=body.purpose,
        operations=[op.model_dump() for op in body.operations],
        actor=str(user.actor),
        now=rt.clock(),
    )


def approve(
    db: Session, *, user: StaffUser, redaction_id: str, policy: jobs.Policy, rt: Runtime
) -> Redaction:
    """The second person's approval and the render job, queued in the same transaction."""
    redaction = redactions.get(db, redaction_id=redaction_id)
    item = get_live(db, evidence_id=redaction.evidence_id)
    redactions.approve(db, redaction=redaction, item=item, actor=str(user.actor), now=rt.clock())
    jobs.enqueue(
        db,
        kind=JobKind.REDACT,
        evidence_id=item.id,
        target=redaction.id,
        policy=policy,
        now=rt.clock(),
    )
    return redaction


def render(
    rt: Runtime,
    claimed: jobs.Claimed,
    worker: str,
    *,
    limits: Limits,
    tick: Callable[[int], bool],
) -> None:
    """Run a claimed render job: the copy made in the child, stored write-once, then its
    record, provenance and custody event with the job's end in one transaction."""
    with rt.sessions() as db:
        item = db.get(Evidence, claimed.evidence_id)
        redaction = db.get(Redaction, claimed.target)
        assert item is not None and redaction is not None
        key, gone, ops = item.storage_key, item.disposition is not None, list(redaction.operations)
    if gone:  # destroyed meanwhile: no copy, and the reason said once
        with transaction(rt.sessions) as db:
            if jobs.finish(db, claimed.id, worker=worker, now=rt.clock()):
                row = db.get(Redaction, claimed.target)
                assert row is not None
                redactions.record_failed(
                    db, redaction=row, reason="the original is being destroyed", now=rt.clock()
                )
        return
    made = renderer.render(rt.storage, key=key, operations=ops, limits=limits, tick=tick)
    if made.data is None:
        raise RuntimeError(made.failure or "no redacted copy")
    details = made.details or {}
    with rt.sessions() as db:
        row = db.get(Redaction, claimed.target)
        assert row is not None
        signed, details = _with_c2pa(rt, row, made.data, details)
        stored, data = redactions.store(rt.storage, redaction=row, data=signed)
    with transaction(rt.sessions) as db:
        row = db.get(Redaction, claimed.target)
        assert row is not None
        if jobs.finish(db, claimed.id, worker=worker, now=rt.clock()):
            redactions.record_rendered(
                db,
                redaction=row,
                key=stored,
                data=data,
                made_with=details,
                now=rt.clock(),
            )
    rt.sign_checkpoint()


def _with_c2pa(
    rt: Runtime, row: Redaction, data: bytes, details: dict[str, Any]
) -> tuple[bytes, dict[str, Any]]:
    """The copy with its provenance embedded as a C2PA manifest, when a signer is set."""
    chain, key = rt.settings.c2pa_cert_chain, rt.settings.c2pa_private_key
    if chain is None or key is None:
        return data, details
    record = redactions.claim(row, made_with=details)
    signed, label = c2pa.sign(data, record=record, chain=chain, key=key)
    return signed, {**details, "c2pa": {"manifest": label, "assertion": c2pa.ASSERTION}}


def failed(db: Session, claimed: jobs.Claimed, *, reason: str, rt: Runtime) -> None:
    """A render job that failed for good: the redaction says why, once, in the log."""
    row = db.get(Redaction, claimed.target)
    if row is not None and row.state == RedactionState.APPROVED:
        redactions.record_failed(db, redaction=row, reason=reason, now=rt.clock())


def preview(rt: Runtime, *, user: StaffUser, redaction_id: str, at: float, limits: Limits) -> bytes:
    """A PNG still at `at` seconds with the operations applied and the boxes outlined; logged."""
    with rt.sessions() as db:
        redaction = redactions.get(db, redaction_id=redaction_id)
        item = get_live(db, evidence_id=redaction.evidence_id)
        redactions.ensure_redactable(db, item=item)
        duration = (item.media_info or {}).get("duration_seconds") or 0.0
        key, ops = item.storage_key, list(redaction.operations)
    if at > duration:
        raise Invalid(f"at: after the video's end ({duration:g} s)", code="out_of_range")
    made = renderer.preview(rt.storage, key=key, operations=ops, at=at, limits=limits)
    if made.data is None:
        raise Conflict(f"no preview: {made.failure}", code="preview_failed")
    with transaction(rt.sessions) as db:
        row = redactions.get(db, redaction_id=redaction_id)
        redactions.log_access(
            db, redaction=row, actor=str(user.actor), what="preview", now=rt.clock(), at=at
        )
    return made.data


def copy(db: Session, *, user: StaffUser, redaction_id: str, rt: Runtime) -> Derivative:
    """The rendered copy to serve (never the original), logged."""
    redaction = redactions.get(db, redaction_id=redaction_id)
    get_live(db, evidence_id=redaction.evidence_id)
    found = db.get(Derivative, redaction.output_key) if redaction.output_key else None
    if found is None:
        raise NotFound(f"the redaction is {redaction.state}; there is no copy yet")
    extra: dict[str, Any] = {"key": found.key, "output_sha256": found.sha256}
    redactions.log_access(
        db, redaction=redaction, actor=str(user.actor), what="copy", now=rt.clock(), **extra
    )
    return found


def request_release(db: Session, *, user: StaffUser, redaction_id: str, now: datetime) -> Any:
    """Ask to release a rendered copy to the public: a change request a second supervisor
    confirms (portal.flows.changes applies it through `release`)."""
    row = redactions.get(db, redaction_id=redaction_id)
    item = get_live(db, evidence_id=row.evidence_id)
    redactions.ensure_releasable(db, redaction=row, item=item)
    state = redactions.release_state(row)
    return changes.request(
        db,
        user=user,
        kind=ChangeKind.RELEASE,
        target=row.id,
        old=state,
        new={**state, "released": True},
        now=now,
    )


def release_state(db: Session, *, redaction_id: str) -> dict[str, Any]:
    return redactions.release_state(redactions.get(db, redaction_id=redaction_id))


def release(
    db: Session, *, redaction_id: str, request_id: str, user: StaffUser, now: datetime
) -> None:
    """A confirmed release request applied: the copy marked released and the release logged."""
    row = redactions.get(db, redaction_id=redaction_id)
    item = get_live(db, evidence_id=row.evidence_id)
    req = db.get(ChangeRequest, request_id)
    asked = req.requested_by if req is not None else None
    redactions.mark_released(
        db,
        redaction=row,
        item=item,
        actor=str(user.actor),
        request={"id": request_id, "requested_by": asked},
        now=now,
    )
