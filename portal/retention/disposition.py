"""Due items, destruction approvals and the purge that destroys what is due.

Destruction is three steps, so a crash anywhere is finished by the next run with exactly one
`evidence.purged`: judge the item from the log (retention/decision.py), mark `purging` and log
`evidence.purge_started` (commit), delete from storage (idempotent), then tombstone, mark
`purged` and log (one commit). Every attempt judges again: `purging` is only a note that a
purge began, never a reason to skip the checks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from portal.auth.models import StaffUser
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.db import transaction
from portal.errors import Conflict
from portal.evidence.models import Derivative, Disposition, Evidence
from portal.retention import decision
from portal.retention.models import Approval, Hold, RetentionPolicy, Tombstone
from portal.retention.service import (
    Context,
    approvals_floor,
    ensure_default_policies,
    iso,
    policy_json,
    recompute,
)
from portal.storage import ObjectLocked
from portal.submissions.models import Submission, SubmissionState

logger = logging.getLogger(__name__)


@dataclass
class DueItem:
    item: Evidence
    approvals_required: int
    approvers: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return len(self.approvers) >= self.approvals_required


def _approvals_required(db: Session, item: Evidence) -> int:
    category = item.retention_category or ""
    policy = db.get(RetentionPolicy, category)
    return max(policy.approvals_required if policy else 0, approvals_floor(category))


def due(db: Session, *, as_of: datetime) -> list[DueItem]:
    """Items whose date has passed and that no hold keeps, with their approvals so far."""
    held = select(Hold.evidence_id).where(Hold.released_at.is_(None))
    items = db.scalars(
        select(Evidence)
        .where(
            Evidence.disposition.is_(None),
            Evidence.retain_until.is_not(None),
            Evidence.retain_until <= as_of,
            Evidence.id.not_in(held),
        )
        .order_by(Evidence.retain_until)
    )
    out = []
    for item in items:
        approvers = list(
            db.scalars(
                select(Approval.approver_id).where(
                    Approval.evidence_id == item.id,
                    Approval.category == item.retention_category,
                )
            )
        )
        out.append(DueItem(item, _approvals_required(db, item), approvers))
    return out


def forecast(db: Session, *, now: datetime, days: int) -> list[Evidence]:
    return list(
        db.scalars(
            select(Evidence)
            .where(
                Evidence.disposition.is_(None),
                Evidence.retain_until.is_not(None),
                Evidence.retain_until <= now + timedelta(days=days),
            )
            .order_by(Evidence.retain_until)
        )
    )


def list_due(db: Session, *, user: StaffUser, now: datetime) -> list[DueItem]:
    """`due` for a person to read: the look is a custody event naming every item shown."""
    items = due(db, as_of=now)
    _listed(db, EventType.RETENTION_DUE_LISTED, user, {"items": [d.item.id for d in items]}, now)
    return items


def list_forecast(db: Session, *, user: StaffUser, now: datetime, days: int) -> list[Evidence]:
    """`forecast` for a person to read, logged like `list_due`."""
    items = forecast(db, now=now, days=days)
    _listed(
        db,
        EventType.RETENTION_FORECAST_LISTED,
        user,
        {"days": days, "items": [e.id for e in items]},
        now,
    )
    return items


def _listed(
    db: Session, type: EventType, user: StaffUser, details: dict[str, object], now: datetime
) -> None:
    custody.append(db, type=type, actor=user.actor, subject="retention", details=details, at=now)


def approve(db: Session, *, user: StaffUser, evidence_id: str, now: datetime) -> DueItem:
    entry = next((d for d in due(db, as_of=now) if d.item.id == evidence_id), None)
    if entry is None:
        raise Conflict("the item is not due for destruction", code="not_due")
    if entry.approvals_required == 0:
        raise Conflict("this item needs no approval", code="no_approval_needed")
    if user.id in entry.approvers:
        raise Conflict(
            "you already approved; a second, different supervisor must", code="already_approved"
        )
    db.add(
        Approval(
            evidence_id=evidence_id,
            approver_id=user.id,
            category=entry.item.retention_category or "",
            approved_at=now,
        )
    )
    custody.append(
        db,
        type=EventType.DISPOSITION_APPROVED,
        actor=user.actor,
        subject=evidence_id,
        details={
            "category": entry.item.retention_category,
            "approvals": len(entry.approvers) + 1,
            "required": entry.approvals_required,
        },
        at=now,
    )
    entry.approvers.append(user.id)
    return entry


@dataclass
class RunReport:
    destroyed: list[str] = field(default_factory=list)
    awaiting_approval: list[str] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)
    would_destroy: list[str] = field(default_factory=list)
    # Marked `purging`, or due by the database, but the decision in the log does not hold.
    mismatched: list[str] = field(default_factory=list)


def run(
    sessions: sessionmaker[Session],
    ctx: Context,
    *,
    as_of: datetime,
    dry_run: bool = False,
    now: datetime,
) -> RunReport:
    """Destroy what is due and approved (and finish any destruction a crash interrupted)."""
    report = RunReport()
    with transaction(sessions) as db:
        ensure_default_policies(db, now=now)
        for item in db.scalars(
            select(Evidence).where(
                Evidence.retention_category.is_(None), Evidence.disposition.is_(None)
            )
        ):
            recompute(db, ctx, item=item, reason="first computation", now=now)
        candidates = list(
            db.scalars(select(Evidence.id).where(Evidence.disposition == Disposition.PURGING))
        )
        entries = due(db, as_of=as_of)
    for entry in entries:
        if entry.ready:
            candidates.append(entry.item.id)
        else:
            report.awaiting_approval.append(entry.item.id)
    for evidence_id in dict.fromkeys(candidates):
        if dry_run:
            with sessions() as db:
                found = db.get(Evidence, evidence_id)
                assert found is not None
                held = decision.judge(db, ctx, item=found, as_of=as_of).refusal is None
            (report.would_destroy if held else report.mismatched).append(evidence_id)
            continue
        try:
            outcome = _purge(sessions, ctx, evidence_id=evidence_id, as_of=as_of, now=now)
        except ObjectLocked:
            # Storage still holds it (COMPLIANCE lock): back under its rules, so it keeps
            # following holds and case links until a later run succeeds.
            with transaction(sessions) as db:
                _halt(db, evidence_id=evidence_id, why="storage refused the delete", now=now)
            report.locked.append(evidence_id)
            continue
        if outcome == "destroyed":
            report.destroyed.append(evidence_id)
        elif outcome == "mismatched":
            report.mismatched.append(evidence_id)
    return report


def _halt(db: Session, *, evidence_id: str, why: str, now: datetime) -> None:
    """Put an item marked `purging` back under its rules, on the record."""
    item = db.get(Evidence, evidence_id, with_for_update=True)
    if item is None or item.disposition != Disposition.PURGING:
        return
    item.disposition = None
    custody.append(
        db,
        type=EventType.EVIDENCE_PURGE_HALTED,
        actor=custody.SYSTEM,
        subject=evidence_id,
        details={"reason": why},
        at=now,
    )


@dataclass(frozen=True)
class _Doomed:
    """What step 1 of a purge decided under the row's lock, for steps 2 and 3."""

    key: str
    sha256: str
    bypass: bool  # ask storage to lift a governance lock
    others: str | None  # another live item that shares the object, which then stays
    derived: list[str]
    verdict: decision.Verdict
    started: int  # seq of the `evidence.purge_started` event


Outcome = Literal["destroyed", "mismatched", "skipped"]


def _purge(
    sessions: sessionmaker[Session],
    ctx: Context,
    *,
    evidence_id: str,
    as_of: datetime,
    now: datetime,
) -> Outcome:
    # 1. The decision, taken again from the log under the row's lock, and the intent logged.
    with transaction(sessions) as db:
        doomed = _mark_purging(db, ctx, evidence_id=evidence_id, as_of=as_of, now=now)
    if not isinstance(doomed, _Doomed):
        return doomed
    # 2. Storage. Idempotent: missing objects are fine.
    if doomed.others is None:
        ctx.storage.delete(doomed.key, bypass_governance=doomed.bypass)
        for derived_key in doomed.derived:
            ctx.storage.delete(derived_key, bypass_governance=True)
    # 3. Tombstone, state and event, together.
    with transaction(sessions) as db:
        done = _record_purge(db, ctx, evidence_id=evidence_id, doomed=doomed, now=now)
    return "destroyed" if done else "skipped"


def _mark_purging(
    db: Session, ctx: Context, *, evidence_id: str, as_of: datetime, now: datetime
) -> _Doomed | Outcome:
    item = db.get(Evidence, evidence_id, with_for_update=True)
    if item is None or item.disposition == Disposition.PURGED:
        return "skipped"
    # Whatever `disposition` says: a column set by hand must not skip the checks.
    verdict = decision.judge(db, ctx, item=item, as_of=as_of)
    if verdict.refusal is not None:
        logger.warning("retention: not destroying %s: %s", item.id, verdict.refusal)
        _halt(db, evidence_id=item.id, why=verdict.refusal, now=now)
        return "mismatched"
    item.disposition = Disposition.PURGING
    started = custody.append(
        db,
        type=EventType.EVIDENCE_PURGE_STARTED,
        actor=custody.SYSTEM,
        subject=item.id,
        details=verdict.details(),
        at=now,
    )
    key, sha256 = item.storage_key, item.sha256
    # The object's lock is the longest any item sharing it ever set (storage never
    # shortens), including items already destroyed.
    longest = db.scalar(select(func.max(Evidence.locked_until)).where(Evidence.storage_key == key))
    # Bypass governance only when the log's date has really passed (by the clock, not
    # `as_of`) but a lock set earlier (a date later shortened, e.g. by withdrawal) has not.
    # The column only tells whether asking is needed; it cannot make the date pass.
    until = verdict.retain_until
    bypass = (
        ctx.lock_mode == "GOVERNANCE"
        and until is not None
        and until <= now
        and longest is not None
        and as_utc(longest) > now
    )
    sharing = list(
        db.scalars(select(Evidence.id).where(Evidence.storage_key == key, Evidence.id != item.id))
    )
    # A sharer is gone only when the log says so: a `purged` column alone keeps the object.
    gone = decision.destroyed_on_record(db, sharing)
    others = next((i for i in sharing if i not in gone), None)
    derived = list(db.scalars(select(Derivative.key).where(Derivative.source_sha256 == sha256)))
    return _Doomed(key, sha256, bypass, others, derived, verdict, started.seq)


def _record_purge(
    db: Session, ctx: Context, *, evidence_id: str, doomed: _Doomed, now: datetime
) -> bool:
    item = db.get(Evidence, evidence_id, with_for_update=True)
    if item is None or item.disposition != Disposition.PURGING:
        return False
    policy = db.get(RetentionPolicy, item.retention_category or "")
    verdict = doomed.verdict
    approvers = sorted(verdict.approvals, key=verdict.approvals.__getitem__)
    db.add(
        Tombstone(
            evidence_id=item.id,
            sha256=item.sha256,
            size=item.size,
            received_at=item.received_at,
            retain_until=verdict.retain_until,
            purged_at=now,
            category=item.retention_category or "",
            approvers=approvers,
            policy=policy_json(policy)
            if policy
            else {"withdrawal_grace_days": ctx.withdrawal_grace.days},
        )
    )
    if doomed.others is None:
        for d in db.scalars(select(Derivative).where(Derivative.source_sha256 == doomed.sha256)):
            db.delete(d)
    item.disposition = Disposition.PURGED
    # What the bytes said about the witness (GPS, device) goes with them.
    item.media_info, item.device_sealed, item.thumbnail_key = None, None, None
    custody.append(
        db,
        type=EventType.EVIDENCE_PURGED,
        actor=custody.SYSTEM,
        subject=item.id,
        details={
            "sha256": item.sha256,
            "size": item.size,
            "category": item.retention_category,
            "retain_until": iso(verdict.retain_until),
            "approvers": approvers,
            "object_kept_for": doomed.others,
            "purge_started": doomed.started,
        },
        at=now,
    )
    _forget_witness_if_done(db, submission_id=item.submission_id, now=now)
    return True


def _forget_witness_if_done(db: Session, *, submission_id: str, now: datetime) -> None:
    """Once a withdrawn submission's last file is gone, so are the witness's details."""
    sub = db.get(Submission, submission_id)
    if (
        sub is None
        or sub.status != SubmissionState.WITHDRAWN
        or (
            sub.contact_encrypted is None
            and sub.incident_encrypted is None
            and not (sub.incident_place or sub.incident_description)
        )
    ):
        return
    db.flush()
    left = db.scalar(
        select(Evidence.id).where(
            Evidence.submission_id == submission_id,
            or_(Evidence.disposition.is_(None), Evidence.disposition != Disposition.PURGED),
        )
    )
    if left is None:
        sub.contact_encrypted = sub.incident_encrypted = None
        sub.incident_place = sub.incident_description = None
        custody.append(
            db,
            type=EventType.WITNESS_DETAILS_ERASED,
            actor=custody.SYSTEM,
            subject=sub.id,
            details={},
            at=now,
        )
