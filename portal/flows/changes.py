"""The two-person rule: weakening changes become requests; a confirmation applies them.

Lowering a category's approvals, shortening its keep (or moving its clock), and downgrading a
case's offence class could each let evidence be destroyed earlier or with fewer approvals, so
one person may only ask; a second, different supervisor's confirmation applies the change, in
the same transaction as its `change.confirmed` event. Raising or lengthening applies at once.
Granting the supervisor or admin role (to a new account or an existing one) is the same kind
of request, confirmed by a second admin: one admin alone could otherwise make two approvers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.auth import mfa, passkeys
from portal.auth import service as auth
from portal.auth.models import GUARDED_ROLES, StaffUser
from portal.cases import service as cases
from portal.changes import service as changes
from portal.changes.models import ChangeKind, ChangeRequest
from portal.errors import Conflict
from portal.flows import redaction
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
    elif req.kind == ChangeKind.ROLE:
        target = auth.get_user(db, user_id=req.target)
        auth.grant_role(db, user=target, role=req.new["role"], now=now, by=user)
    elif req.kind == ChangeKind.SECOND_FACTOR:
        target = auth.get_user(db, user_id=req.target)
        mfa.reset(db, user=target, by=user, request_id=req.id, now=now)
        passkeys.reset(db, user=target, by=user, request_id=req.id, now=now)
        # Whoever held the lost factor may hold a session too.
        auth.end_sessions(db, user=target, now=now)
    elif req.kind == ChangeKind.RELEASE:
        redaction.release(db, redaction_id=req.target, request_id=req.id, user=user, now=now)
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
    elif req.kind == ChangeKind.ROLE:
        now_is = auth.role_state(auth.get_user(db, user_id=req.target))
    elif req.kind == ChangeKind.SECOND_FACTOR:
        now_is = _factor_state(db, auth.get_user(db, user_id=req.target))
    elif req.kind == ChangeKind.RELEASE:
        now_is = redaction.release_state(db, redaction_id=req.target)
    else:
        now_is = {"offense": cases.get(db, case_id=req.target).offense}
    if now_is != req.old:
        raise Conflict(
            "the rule or case changed since this request was made; ask again",
            code="request_stale",
        )


@dataclass(frozen=True)
class AccountOutcome:
    user: StaffUser  # pending (unable to sign in) while `request` waits
    request: ChangeRequest | None


def _needs_second_admin(db: Session, *, by: StaffUser | None, role: str) -> bool:
    if role not in GUARDED_ROLES:
        return False
    # The very first admin comes from the command line of a portal that has none yet;
    # every later grant of supervisor or admin waits for a second admin.
    bootstrap = by is None and role == "admin" and not _active_admins(db)
    return not bootstrap


def _active_admins(db: Session) -> list[StaffUser]:
    return [u for u in auth.list_users(db, roles=("admin",)) if not (u.disabled or u.pending)]


def _ask_grant(
    db: Session, *, by: StaffUser | None, user: StaffUser, role: str, now: datetime
) -> ChangeRequest:
    return changes.request(
        db,
        user=by,
        kind=ChangeKind.ROLE,
        target=user.id,
        old=auth.role_state(user),
        new={"role": role},
        now=now,
    )


def create_account(
    db: Session, *, by: StaffUser | None, name: str, role: str, password: str, now: datetime
) -> AccountOutcome:
    """Create a staff account; a supervisor or admin one waits for a second admin."""
    guarded = _needs_second_admin(db, by=by, role=role)
    user = auth.add_user(
        db, name=name, role=role, password=password, now=now, by=by, pending=guarded
    )
    if not guarded:
        return AccountOutcome(user, None)
    return AccountOutcome(user, _ask_grant(db, by=by, user=user, role=role, now=now))


def change_role(
    db: Session, *, by: StaffUser | None, user_id: str, role: str, now: datetime
) -> AccountOutcome:
    """Change an account's role: granting supervisor or admin is a request, the rest applies."""
    user = auth.get_user(db, user_id=user_id)
    auth.check_role_change(user, role)
    if not _needs_second_admin(db, by=by, role=role):
        return AccountOutcome(auth.grant_role(db, user=user, role=role, now=now, by=by), None)
    return AccountOutcome(user, _ask_grant(db, by=by, user=user, role=role, now=now))


def request_second_factor_reset(
    db: Session, *, by: StaffUser, user_id: str, now: datetime
) -> ChangeRequest:
    """An admin asks to remove an account's second factor (lost phone, spent recovery
    codes); a second admin's confirmation applies it, and ends the account's sessions."""
    user = auth.get_user(db, user_id=user_id)
    old = _factor_state(db, user)
    if old["second_factor"] is None and not old.get("passkeys"):
        raise Conflict("the account has no second factor", code="no_second_factor")
    return changes.request(
        db,
        user=by,
        kind=ChangeKind.SECOND_FACTOR,
        target=user.id,
        old=old,
        new={"second_factor": None},
        now=now,
    )


def _factor_state(db: Session, user: StaffUser) -> dict[str, object]:
    """TOTP and passkeys: one reset removes both (a passkey count only when there are some,
    so requests made before passkeys existed still match)."""
    state = mfa.state(db, user=user)
    keys = passkeys.count(db, user=user)
    return {**state, "passkeys": keys} if keys else state
