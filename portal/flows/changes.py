"""The two-person rule: weakening changes become requests; a confirmation applies them.

Lowering a category's approvals, shortening its keep (or moving its clock), and downgrading a
case's offence class could each let evidence be destroyed earlier or with fewer approvals, so
one person may only ask; a second, different supervisor's confirmation applies the change, in
the same transaction as its `change.confirmed` event. Raising or lengthening applies at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.cases import service as cases
from portal.changes import service as changes
from portal.changes.models import ChangeKind, ChangeRequest
from portal.errors import Conflict
from portal.retention import service as retention
from portal.retention.models import RetentionPolicy


@dataclass(frozen=True)
class PolicyOutcome:
    policy: RetentionPolicy  # as it stands now: unchanged while a request is pending
    request: ChangeRequest | None


def change_policy(
    db: Session,
    ctx: retention.Context,
    *,
    user: StaffUser,
    category: str,
    keep_days: int | None,
    trigger: str,
    approvals_required: int,
    now: datetime,
) -> PolicyOutcome:
    policy = retention.check_policy(
        db,
        category=category,
        keep_days=keep_days,
        trigger=trigger,
        approvals_required=approvals_required,
    )
    old = retention.policy_json(policy)
    new = {"keep_days": keep_days, "trigger": trigger, "approvals_required": approvals_required}
    if retention.weakens(old, new):
        req = changes.request(
            db, user=user, kind=ChangeKind.POLICY, target=category, old=old, new=new, now=now
        )
        return PolicyOutcome(policy, req)
    applied = retention.set_policy(
        db,
        ctx,
        user=user,
        category=category,
        keep_days=keep_days,
        trigger=trigger,
        approvals_required=approvals_required,
        now=now,
    )
    return PolicyOutcome(applied, None)


def confirm(
    db: Session,
    ctx: retention.Context,
    *,
    user: StaffUser,
    request_id: str,
    now: datetime,
) -> ChangeRequest:
    req = changes.confirm(db, user=user, request_id=request_id, now=now)
    _ensure_current(db, req)
    if req.kind == ChangeKind.POLICY:
        retention.set_policy(
            db,
            ctx,
            user=user,
            category=req.target,
            keep_days=req.new["keep_days"],
            trigger=req.new["trigger"],
            approvals_required=req.new["approvals_required"],
            now=now,
        )
    else:
        case = cases.set_offense(db, case_id=req.target, offense=req.new["offense"])
        retention.recompute_case(
            db, ctx, case_id=case.id, reason=f"case {case.id} offence changed", now=now
        )
    return req


def _ensure_current(db: Session, req: ChangeRequest) -> None:
    """What the confirmer approved is a change from `old`: if the rule or the case has moved
    since, applying `new` would make a change nobody reviewed (the refusal rolls back)."""
    if req.kind == ChangeKind.POLICY:
        policy = db.get(RetentionPolicy, req.target)
        now_is: dict[str, Any] | None = retention.policy_json(policy) if policy else None
    else:
        now_is = {"offense": cases.get(db, case_id=req.target).offense}
    if now_is != req.old:
        raise Conflict(
            "the rule or case changed since this request was made; ask again",
            code="request_stale",
        )
