"""Change requests: the two-person rule for changes that weaken protection of evidence.

A change that could make evidence be destroyed earlier, or with fewer approvals, is recorded
here as a pending request and applied only when a second, different person confirms it
(flows/changes.py applies it). Every step appends its custody event in the caller's
transaction. Requests left pending past their time-to-live lapse, logged, unapplied.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.changes.models import ChangeKind, ChangeRequest, ChangeState
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import Conflict, Forbidden, NotFound
from portal.ids import new_id

# Who may confirm each kind: a second supervisor, for rules that protect evidence; a second
# admin, for the grants that make approvers and confirmers.
CONFIRMER_ROLE: dict[ChangeKind, str] = {
    ChangeKind.POLICY: "supervisor",
    ChangeKind.OFFENSE: "supervisor",
    ChangeKind.ROLE: "admin",
    ChangeKind.SECOND_FACTOR: "admin",
    ChangeKind.RELEASE: "supervisor",
}
# Kinds whose target is an account: nobody confirms one about their own.
ACCOUNT_KINDS = (ChangeKind.ROLE, ChangeKind.SECOND_FACTOR)
# The author of a request made from the command line, by whoever runs the machine.
OPERATOR = "system"


def _details(req: ChangeRequest, **extra: Any) -> dict[str, Any]:
    return {"kind": req.kind, "target": req.target, "old": req.old, "new": req.new, **extra}


def request(
    db: Session,
    *,
    user: StaffUser | None,
    kind: ChangeKind,
    target: str,
    old: dict[str, Any],
    new: dict[str, Any],
    now: datetime,
) -> ChangeRequest:
    """Record a pending request; `user` None is the operator at the command line."""
    req = ChangeRequest(
        id=new_id(),
        kind=kind,
        target=target,
        old=old,
        new=new,
        state=ChangeState.PENDING,
        requested_by=user.id if user else OPERATOR,
        requested_at=now,
    )
    db.add(req)
    custody.append(
        db,
        type=EventType.CHANGE_REQUESTED,
        actor=user.actor if user else custody.SYSTEM,
        subject=req.id,
        details=_details(req),
        at=now,
    )
    db.flush()
    return req


def expire(db: Session, *, ttl: timedelta, now: datetime) -> list[ChangeRequest]:
    """Lapse every request pending for longer than `ttl`; each lapse is logged."""
    stale = list(
        db.scalars(
            select(ChangeRequest)
            .where(ChangeRequest.state == ChangeState.PENDING)
            .where(ChangeRequest.requested_at <= now - ttl)
            .order_by(ChangeRequest.requested_at, ChangeRequest.id)
        )
    )
    for req in stale:
        req.state, req.decided_at = ChangeState.EXPIRED, now
        custody.append(
            db,
            type=EventType.CHANGE_EXPIRED,
            actor=custody.SYSTEM,
            subject=req.id,
            details=_details(req, requested_at=custody.rfc3339(as_utc(req.requested_at))),
            at=now,
        )
    return stale


def pending(db: Session, *, target: str | None = None) -> list[ChangeRequest]:
    """Pending requests, oldest first; with `target`, only those about it (a case's page)."""
    query = select(ChangeRequest).where(ChangeRequest.state == ChangeState.PENDING)
    if target is not None:
        query = query.where(ChangeRequest.target == target)
    return list(db.scalars(query.order_by(ChangeRequest.requested_at, ChangeRequest.id)))


def _open(db: Session, request_id: str) -> ChangeRequest:
    # Locked so that two confirmations (or a confirmation and a withdrawal) cannot both pass.
    req = db.get(ChangeRequest, request_id, with_for_update=True)
    if req is None:
        raise NotFound("no such change request")
    if req.state != ChangeState.PENDING:
        raise Conflict(f"the change request is already {req.state}", code="request_decided")
    return req


def confirm(db: Session, *, user: StaffUser, request_id: str, now: datetime) -> ChangeRequest:
    """Mark the request confirmed by `user`; the caller applies the change in this transaction."""
    req = _open(db, request_id)
    if req.requested_by == user.id:
        raise Conflict(
            "a change request needs a second person: its author cannot confirm it",
            code="own_request",
        )
    needed = CONFIRMER_ROLE[ChangeKind(req.kind)]
    if user.role != needed:
        raise Forbidden(f"only a {needed} may confirm a {req.kind} change", code="wrong_confirmer")
    if req.kind in ACCOUNT_KINDS and req.target == user.id:
        raise Conflict("nobody may confirm a change to their own account", code="own_request")
    _ensure_logged(db, req)
    req.state, req.decided_by, req.decided_at = ChangeState.CONFIRMED, user.id, now
    custody.append(
        db,
        type=EventType.CHANGE_CONFIRMED,
        actor=user.actor,
        subject=req.id,
        details=_details(req),
        at=now,
    )
    return req


def _ensure_logged(db: Session, req: ChangeRequest) -> None:
    """Apply only what was asked on the record: the row is mutable, its `change.requested`
    event is not, so a request edited in the database is refused (and nothing applied)."""
    try:
        entry = custody.first_event(db, type=EventType.CHANGE_REQUESTED, subject=req.id)
        logged = json.loads(entry.event)["details"]
    except NotFound:
        logged = None
    if logged != _details(req):
        raise Conflict(
            "this change request differs from the one on the custody log; nothing was applied",
            code="request_altered",
        )


def withdraw(db: Session, *, user: StaffUser, request_id: str, now: datetime) -> ChangeRequest:
    req = _open(db, request_id)
    if req.requested_by != user.id:
        raise Conflict("only the author may withdraw a change request", code="not_author")
    req.state, req.decided_by, req.decided_at = ChangeState.WITHDRAWN, user.id, now
    custody.append(
        db,
        type=EventType.CHANGE_WITHDRAWN,
        actor=user.actor,
        subject=req.id,
        details=_details(req),
        at=now,
    )
    return req
