"""Retention: how long each item is kept, legal holds, consent withdrawal, destruction.

Hand-written because the rules are this project's own. An item's retain-until is the longest
of every rule that applies to it (indefinite beats any date); a legal hold blocks destruction
whatever the date; a withdrawn consent replaces the item's own rules (never keep longer than
the witness agreed) unless a case needs it. Storage is told every date (Object Lock on S3),
only ever extending it, so someone holding the database cannot destroy early.
Due items, approvals and destruction are in retention/disposition.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.cases.models import Case, CaseLink, CaseState
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import Conflict, Invalid, NotFound
from portal.evidence.models import Disposition, Evidence, TriageState
from portal.ids import new_id
from portal.retention.models import POLICY_TRIGGERS, Hold, RetentionPolicy, Trigger
from portal.storage import Storage
from portal.submissions.models import Consent

# category: (keep_days or None for indefinite, trigger, approvals required)
DEFAULT_POLICIES: dict[str, tuple[int | None, Trigger, int]] = {
    "unreviewed": (365, Trigger.RECEIPT, 0),
    "declined": (90, Trigger.TRIAGE, 0),
    "no-case": (730, Trigger.TRIAGE, 1),
    "case-open": (None, Trigger.CASE_CLOSURE, 1),
    "case-closed-misdemeanor": (3 * 365, Trigger.CASE_CLOSURE, 1),
    "case-closed-felony": (10 * 365, Trigger.CASE_CLOSURE, 2),
    "homicide": (None, Trigger.CASE_CLOSURE, 2),
}
WITHDRAWN = "withdrawn"  # the category of a file whose witness withdrew consent
# The two-person rule of the gravest categories is not a setting one supervisor may lift:
# every category whose default needs two approvals keeps at least two.
APPROVALS_FLOOR: dict[str, int] = {
    category: approvals
    for category, (_, _, approvals) in DEFAULT_POLICIES.items()
    if approvals >= 2
}


def approvals_floor(category: str) -> int:
    return APPROVALS_FLOOR.get(category, 0)


@dataclass(frozen=True)
class Context:
    """What retention needs from the running portal."""

    storage: Storage
    withdrawal_grace: timedelta
    lock_mode: str = "GOVERNANCE"


def iso(at: datetime | None) -> str | None:
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


def policy_json(p: RetentionPolicy) -> dict[str, Any]:
    return {
        "keep_days": p.keep_days,
        "trigger": p.trigger,
        "approvals_required": p.approvals_required,
    }


def check_policy(
    db: Session, *, category: str, keep_days: int | None, trigger: str, approvals_required: int
) -> RetentionPolicy:
    """The category's current rule, after refusing a new one that may never be set."""
    policy = db.get(RetentionPolicy, category)
    if policy is None:
        raise NotFound(f"no retention category {category!r}")
    if trigger not in POLICY_TRIGGERS:
        raise Invalid(f"trigger must be one of {', '.join(POLICY_TRIGGERS)}", code="bad_trigger")
    floor = approvals_floor(category)
    if approvals_required < floor:
        raise Invalid(
            f"{category!r} needs at least {floor} approvals to destroy an item",
            code="below_approvals_floor",
        )
    return policy


def weakens(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a rule change could destroy an item earlier or with fewer approvals.

    A changed trigger counts too: which clock starts earlier depends on the item."""
    if new["approvals_required"] < old["approvals_required"] or new["trigger"] != old["trigger"]:
        return True
    if new["keep_days"] is None:
        return False
    return old["keep_days"] is None or new["keep_days"] < old["keep_days"]


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
    """Apply a rule at once: callers send a weakening change through a confirmed request."""
    policy = check_policy(
        db,
        category=category,
        keep_days=keep_days,
        trigger=trigger,
        approvals_required=approvals_required,
    )
    old = policy_json(policy)
    policy.keep_days, policy.trigger = keep_days, trigger
    policy.approvals_required, policy.updated_at = approvals_required, now
    custody.append(
        db,
        type=EventType.POLICY_CHANGED,
        actor=user.actor,
        subject=category,
        details={"old": old, "new": policy_json(policy)},
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
        by_state: dict[str, str] = {TriageState.NEW: "unreviewed", TriageState.DECLINED: "declined"}
        category = by_state.get(item.status, "no-case")
        starts: dict[str, datetime] = {
            Trigger.RECEIPT: item.received_at,
            Trigger.TRIAGE: item.triaged_at or item.received_at,
        }
        start = starts.get(rules[category].trigger, item.received_at)
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
            "old": {"category": item.retention_category, "retain_until": iso(old_until)},
            "new": {"category": new.category, "retain_until": iso(new.until)},
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
    """A supervisor's extra rule: keep at least until `until` (None removes the override).

    Refused when it would make the item due earlier, so one supervisor cannot bring a
    destruction forward: a date before the current one, or removing an override that is what
    keeps the item longer."""
    item = _live(db, evidence_id)
    current = decide(db, ctx, item=item).until
    earlier = until is not None and (current is None or as_utc(until) < current)
    item.retention_override = until
    after = decide(db, ctx, item=item).until
    if earlier or (after is not None and (current is None or after < current)):
        raise Conflict(
            "an override can only keep an item longer, never make it due earlier",
            code="would_shorten",
        )
    custody.append(
        db,
        type=EventType.RETENTION_OVERRIDDEN,
        actor=user.actor,
        subject=item.id,
        details={"until": iso(until), "reason": reason},
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
    return FileRetention("scheduled", until, f"to be destroyed after {iso(until)}")
