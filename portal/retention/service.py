"""Retention: how long each item is kept, legal holds, consent withdrawal, destruction.

Hand-written because the rules are this project's own. An item's retain-until is the longest
of every rule that applies to it (indefinite beats any date); a legal hold blocks destruction
whatever the date; a withdrawn consent replaces the item's own rules (never keep longer than
the witness agreed) unless a case needs it. Storage is told every date (Object Lock on S3),
only ever extending it, so someone holding the database cannot destroy early.

Destruction is three steps, so a crash anywhere is finished by the next run with exactly one
`evidence.purged`: mark `purging` (commit), delete from storage (idempotent), then tombstone,
mark `purged` and log (one commit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from portal.auth.models import StaffUser
from portal.cases.models import Case, CaseLink, CaseState
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.db import transaction
from portal.errors import Conflict, Invalid, NotFound
from portal.evidence.models import Derivative, Disposition, Evidence
from portal.ids import new_id
from portal.retention.models import TRIGGERS, Approval, Hold, RetentionPolicy, Tombstone
from portal.storage import ObjectLocked, Storage
from portal.submissions.models import Consent, Submission, SubmissionState

# category: (keep_days or None for indefinite, trigger, approvals required)
DEFAULT_POLICIES: dict[str, tuple[int | None, str, int]] = {
    "unreviewed": (365, "receipt", 0),
    "declined": (90, "triage", 0),
    "no-case": (730, "triage", 1),
    "case-open": (None, "case_closure", 1),
    "case-closed-misdemeanor": (3 * 365, "case_closure", 1),
    "case-closed-felony": (10 * 365, "case_closure", 2),
    "homicide": (None, "case_closure", 2),
}
WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Context:
    """What retention needs from the running portal."""

    storage: Storage
    withdrawal_grace: timedelta
    lock_mode: str = "GOVERNANCE"


def _iso(at: datetime | None) -> str | None:
    return custody.rfc3339(as_utc(at)) if at else None


# --- policies ------------------------------------------------------------------------------


def ensure_default_policies(db: Session, *, now: datetime) -> None:
    for category, (days, trigger, approvals) in DEFAULT_POLICIES.items():
        if db.get(RetentionPolicy, category) is None:
            db.add(
                RetentionPolicy(
                    category=category,
                    keep_days=days,
                    trigger=trigger,
                    approvals_required=approvals,
                    updated_at=now,
                )
            )


def policies(db: Session) -> dict[str, RetentionPolicy]:
    return {p.category: p for p in db.scalars(select(RetentionPolicy))}


def _policy_json(p: RetentionPolicy) -> dict[str, Any]:
    return {
        "keep_days": p.keep_days,
        "trigger": p.trigger,
        "approvals_required": p.approvals_required,
    }


def set_policy(
    db: Session,
    ctx: Context,
    *,
    user: StaffUser,
    category: str,
    keep_days: int | None,
    trigger: str,
    approvals_required: int,
    now: datetime,
) -> RetentionPolicy:
    policy = db.get(RetentionPolicy, category)
    if policy is None:
        raise NotFound(f"no retention category {category!r}")
    if trigger not in TRIGGERS[:3]:
        raise Invalid(f"trigger must be one of {', '.join(TRIGGERS[:3])}", code="bad_trigger")
    old = _policy_json(policy)
    policy.keep_days, policy.trigger = keep_days, trigger
    policy.approvals_required, policy.updated_at = approvals_required, now
    custody.append(
        db,
        type=EventType.POLICY_CHANGED,
        actor=user.actor,
        subject=category,
        details={"old": old, "new": _policy_json(policy)},
        at=now,
    )
    for item in db.scalars(select(Evidence).where(Evidence.disposition.is_(None))):
        recompute(db, ctx, item=item, reason=f"policy {category} changed", now=now)
    return policy


# --- computing retain-until -----------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    category: str
    until: datetime | None  # None: indefinitely
    why: str


def _withdrawn_at(db: Session, submission_id: str) -> datetime | None:
    consent = db.scalars(
        select(Consent)
        .where(Consent.submission_id == submission_id)
        .order_by(Consent.given_at.desc())
    ).first()
    return as_utc(consent.withdrawn_at) if consent and consent.withdrawn_at else None


def linked_cases(db: Session, evidence_id: str) -> list[Case]:
    return list(
        db.scalars(
            select(Case)
            .join(CaseLink, CaseLink.case_id == Case.id)
            .where(CaseLink.evidence_id == evidence_id)
        )
    )


def decide(db: Session, ctx: Context, *, item: Evidence) -> Decision:
    """The rule that keeps this item longest."""
    rules = policies(db)

    def rule(category: str, start: datetime | None, why: str) -> Decision:
        p = rules[category]
        if p.keep_days is None or start is None:
            return Decision(category, None, why)
        return Decision(category, as_utc(start) + timedelta(days=p.keep_days), why)

    candidates: list[Decision] = []
    for case in linked_cases(db, item.id):
        if case.offense == "homicide":
            candidates.append(rule("homicide", case.closed_at, f"homicide case {case.id}"))
        elif case.status == CaseState.OPEN:
            candidates.append(rule("case-open", None, f"open case {case.id}"))
        else:
            candidates.append(
                rule(f"case-closed-{case.offense}", case.closed_at, f"closed case {case.id}")
            )
    withdrawn = _withdrawn_at(db, item.submission_id)
    if not candidates:
        if withdrawn is not None:
            # The witness's withdrawal replaces every other rule but a case's.
            return Decision(WITHDRAWN, withdrawn + ctx.withdrawal_grace, "consent withdrawn")
        category = {"new": "unreviewed", "declined": "declined"}.get(item.status, "no-case")
        start = {
            "receipt": item.received_at,
            "triage": item.triaged_at or item.received_at,
        }.get(rules[category].trigger, item.received_at)
        candidates.append(rule(category, start, f"{item.status} item"))
    indefinite = [d for d in candidates if d.until is None]
    if indefinite:
        return indefinite[0]
    best = max(candidates, key=lambda d: d.until or datetime.max)
    extra = item.retention_override
    if extra is not None and withdrawn is None and best.until and as_utc(extra) > best.until:
        # An override lengthens the date only: the category, and so who must approve
        # destruction, stays the one the item is really in.
        return Decision(best.category, as_utc(extra), f"{best.why}, overridden")
    return best


def recompute(db: Session, ctx: Context, *, item: Evidence, reason: str, now: datetime) -> None:
    """Bring the item's category and date up to date; log and mirror any change."""
    if item.disposition is not None:
        return
    new = decide(db, ctx, item=item)
    old_until = as_utc(item.retain_until) if item.retain_until else None
    if (item.retention_category, old_until) == (new.category, new.until):
        return
    custody.append(
        db,
        type=EventType.RETENTION_CHANGED,
        actor=custody.SYSTEM,
        subject=item.id,
        details={
            "old": {"category": item.retention_category, "retain_until": _iso(old_until)},
            "new": {"category": new.category, "retain_until": _iso(new.until)},
            "reason": reason,
        },
        at=now,
    )
    item.retention_category, item.retain_until = new.category, new.until
    locked = as_utc(item.locked_until) if item.locked_until else None
    if new.until is not None and (locked is None or new.until > locked):
        # Only ever extended: a shortened date (withdrawal) is honoured by a governance bypass
        # at destruction, never by weakening the lock in advance.
        ctx.storage.set_retention(item.storage_key, new.until)
        item.locked_until = new.until


def recompute_submission(
    db: Session, ctx: Context, *, submission_id: str, reason: str, now: datetime
) -> None:
    for item in db.scalars(select(Evidence).where(Evidence.submission_id == submission_id)):
        recompute(db, ctx, item=item, reason=reason, now=now)


def recompute_case(db: Session, ctx: Context, *, case_id: str, reason: str, now: datetime) -> None:
    for item in db.scalars(
        select(Evidence)
        .join(CaseLink, CaseLink.evidence_id == Evidence.id)
        .where(CaseLink.case_id == case_id)
    ):
        recompute(db, ctx, item=item, reason=reason, now=now)


# --- overrides and holds ----------------------------------------------------------------------


def override(
    db: Session,
    ctx: Context,
    *,
    user: StaffUser,
    evidence_id: str,
    until: datetime | None,
    reason: str,
    now: datetime,
) -> Evidence:
    """A supervisor's extra rule: keep at least until `until` (None removes the override)."""
    item = _live(db, evidence_id)
    item.retention_override = until
    custody.append(
        db,
        type=EventType.RETENTION_OVERRIDDEN,
        actor=user.actor,
        subject=item.id,
        details={"until": _iso(until), "reason": reason},
        at=now,
    )
    recompute(db, ctx, item=item, reason=f"override: {reason}", now=now)
    return item


def _live(db: Session, evidence_id: str) -> Evidence:
    item = db.get(Evidence, evidence_id)
    if item is None:
        raise NotFound("no such evidence item")
    if item.disposition == Disposition.PURGED:
        raise Conflict("the item was destroyed", code="purged")
    return item


def active_holds(db: Session, evidence_id: str) -> list[Hold]:
    return list(
        db.scalars(select(Hold).where(Hold.evidence_id == evidence_id, Hold.released_at.is_(None)))
    )


def holds_of(db: Session, *, evidence_id: str) -> list[Hold]:
    return list(
        db.scalars(select(Hold).where(Hold.evidence_id == evidence_id).order_by(Hold.placed_at))
    )


def place_hold(
    db: Session,
    ctx: Context,
    *,
    user: StaffUser,
    evidence_id: str,
    reason: str,
    case_reference: str | None,
    now: datetime,
) -> Hold:
    item = _live(db, evidence_id)
    hold = Hold(
        id=new_id(),
        evidence_id=item.id,
        reason=reason,
        case_reference=case_reference,
        placed_by=user.id,
        placed_at=now,
    )
    db.add(hold)
    custody.append(
        db,
        type=EventType.HOLD_PLACED,
        actor=user.actor,
        subject=item.id,
        details={"hold": hold.id, "reason": reason, "case_reference": case_reference},
        at=now,
    )
    ctx.storage.set_legal_hold(item.storage_key, True)
    return hold


def release_hold(
    db: Session, ctx: Context, *, user: StaffUser, hold_id: str, reason: str, now: datetime
) -> Hold:
    hold = db.get(Hold, hold_id)
    if hold is None:
        raise NotFound("no such hold")
    if hold.released_at is not None:
        raise Conflict("the hold was already released", code="hold_released")
    hold.released_at, hold.released_by, hold.release_reason = now, user.id, reason
    custody.append(
        db,
        type=EventType.HOLD_RELEASED,
        actor=user.actor,
        subject=hold.evidence_id,
        details={"hold": hold.id, "reason": reason},
        at=now,
    )
    item = db.get(Evidence, hold.evidence_id)
    assert item is not None
    db.flush()
    # One stored original may back two items (the same file sent twice).
    sharing = select(Evidence.id).where(Evidence.storage_key == item.storage_key)
    still_held = db.scalar(
        select(Hold.id).where(Hold.evidence_id.in_(sharing), Hold.released_at.is_(None))
    )
    if still_held is None:
        ctx.storage.set_legal_hold(item.storage_key, False)
    return hold


# --- withdrawal ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileRetention:
    state: str  # kept, scheduled, held, needed_by_case, destroyed
    until: datetime | None
    reason: str


def status_for_witness(db: Session, *, item: Evidence) -> FileRetention:
    """What a witness may know about what happens to one of their files, and why."""
    if item.disposition == Disposition.PURGED:
        return FileRetention("destroyed", None, "destroyed")
    until = as_utc(item.retain_until) if item.retain_until else None
    if active_holds(db, item.id):
        return FileRetention("held", until, "kept under legal hold")
    if (
        item.retention_category != WITHDRAWN
        and linked_cases(db, item.id)
        and (_withdrawn_at(db, item.submission_id) is not None)
    ):
        return FileRetention("needed_by_case", until, "needed by a case investigation")
    if until is None:
        return FileRetention("kept", None, "kept while it is needed")
    return FileRetention("scheduled", until, f"to be destroyed after {_iso(until)}")


# --- due items, approvals and destruction --------------------------------------------------------


@dataclass
class DueItem:
    item: Evidence
    approvals_required: int
    approvers: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return len(self.approvers) >= self.approvals_required


def _approvals_required(db: Session, item: Evidence) -> int:
    policy = db.get(RetentionPolicy, item.retention_category or "")
    return policy.approvals_required if policy else 0


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
        unfinished = list(
            db.scalars(select(Evidence.id).where(Evidence.disposition == Disposition.PURGING))
        )
        entries = due(db, as_of=as_of)
    for entry in entries:
        if not entry.ready:
            report.awaiting_approval.append(entry.item.id)
        elif dry_run:
            report.would_destroy.append(entry.item.id)
        else:
            unfinished.append(entry.item.id)
    if dry_run:
        report.would_destroy += unfinished
        return report
    for evidence_id in dict.fromkeys(unfinished):
        try:
            if _purge(sessions, ctx, evidence_id=evidence_id, as_of=as_of, now=now):
                report.destroyed.append(evidence_id)
        except ObjectLocked:
            # Storage still holds it (COMPLIANCE lock): back under its rules, so it keeps
            # following holds and case links until a later run succeeds.
            with transaction(sessions) as db:
                db.execute(
                    update(Evidence)
                    .where(Evidence.id == evidence_id, Evidence.disposition == Disposition.PURGING)
                    .values(disposition=None)
                )
            report.locked.append(evidence_id)
    return report


def _purge(
    sessions: sessionmaker[Session],
    ctx: Context,
    *,
    evidence_id: str,
    as_of: datetime,
    now: datetime,
) -> bool:
    # 1. Intent, after checking again under the row's lock: nothing held, still due.
    with transaction(sessions) as db:
        item = db.get(Evidence, evidence_id, with_for_update=True)
        if item is None or item.disposition == Disposition.PURGED:
            return False
        if item.disposition is None:
            entry = next((d for d in due(db, as_of=as_of) if d.item.id == evidence_id), None)
            if entry is None or not entry.ready:
                return False
            item.disposition = Disposition.PURGING
        key, sha256 = item.storage_key, item.sha256
        # The object's lock is the longest any item sharing it ever set (storage never
        # shortens), including items already destroyed.
        longest = db.scalar(
            select(func.max(Evidence.locked_until)).where(Evidence.storage_key == key)
        )
        locked = as_utc(longest) if longest else None
        others = db.scalar(
            select(Evidence.id).where(
                Evidence.storage_key == key,
                Evidence.id != item.id,
                or_(Evidence.disposition.is_(None), Evidence.disposition != Disposition.PURGED),
            )
        )
        derived = list(db.scalars(select(Derivative.key).where(Derivative.source_sha256 == sha256)))
    # 2. Storage. Idempotent: missing objects are fine. Bypass governance only when our own
    # (shortened, e.g. withdrawn) date has passed but the lock set earlier has not.
    if others is None:
        bypass = ctx.lock_mode == "GOVERNANCE" and locked is not None and locked > as_of
        ctx.storage.delete(key, bypass_governance=bypass)
        for derived_key in derived:
            ctx.storage.delete(derived_key, bypass_governance=True)
    # 3. Tombstone, state and event, together.
    with transaction(sessions) as db:
        item = db.get(Evidence, evidence_id, with_for_update=True)
        if item is None or item.disposition != Disposition.PURGING:
            return False
        policy = db.get(RetentionPolicy, item.retention_category or "")
        approvers = list(
            db.scalars(
                select(Approval.approver_id).where(
                    Approval.evidence_id == item.id, Approval.category == item.retention_category
                )
            )
        )
        db.add(
            Tombstone(
                evidence_id=item.id,
                sha256=item.sha256,
                size=item.size,
                received_at=item.received_at,
                retain_until=item.retain_until,
                purged_at=now,
                category=item.retention_category or "",
                approvers=approvers,
                policy=_policy_json(policy)
                if policy
                else {"withdrawal_grace_days": ctx.withdrawal_grace.days},
            )
        )
        if others is None:
            for d in db.scalars(select(Derivative).where(Derivative.source_sha256 == sha256)):
                db.delete(d)
        item.disposition = Disposition.PURGED
        # What the bytes said about the witness (GPS, device) goes with them.
        item.media_info, item.thumbnail_key = None, None
        custody.append(
            db,
            type=EventType.EVIDENCE_PURGED,
            actor=custody.SYSTEM,
            subject=item.id,
            details={
                "sha256": item.sha256,
                "size": item.size,
                "category": item.retention_category,
                "retain_until": _iso(item.retain_until),
                "approvers": approvers,
                "object_kept_for": others,
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
        or (sub.contact_encrypted is None and not (sub.incident_place or sub.incident_description))
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
        sub.contact_encrypted = None
        sub.incident_place = sub.incident_description = None
        custody.append(
            db,
            type=EventType.WITNESS_DETAILS_ERASED,
            actor=custody.SYSTEM,
            subject=sub.id,
            details={},
            at=now,
        )
