"""Supervisor routes: policies, holds, overrides, case closure, due items and approvals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from portal.auth.models import StaffUser
from portal.changes.schemas import ChangeRequestOut
from portal.db import transaction
from portal.deps import Approver, Holder, RetentionManager, RuntimeDep
from portal.errors import responses
from portal.evidence.models import Evidence
from portal.flows import changes as change_flows
from portal.retention import disposition, service
from portal.retention.models import Hold, RetentionPolicy
from portal.retention.schemas import (
    DueOut,
    ForecastOut,
    HoldCreate,
    HoldOut,
    HoldRelease,
    OverrideIn,
    PolicyOut,
    PolicyUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["retention"], responses=responses(401, 403))


def _hold(h: Hold) -> HoldOut:
    return HoldOut(
        id=h.id,
        evidence_id=h.evidence_id,
        reason=h.reason,
        case_reference=h.case_reference,
        placed_at=h.placed_at,
        released_at=h.released_at,
    )


def _due(d: disposition.DueItem) -> DueOut:
    return DueOut(
        evidence_id=d.item.id,
        sha256=d.item.sha256,
        size=d.item.size,
        category=d.item.retention_category,
        retain_until=d.item.retain_until,
        approvals_required=d.approvals_required,
        approvers=d.approvers,
        ready=d.ready,
    )


@router.get("/retention/policies")
def list_policies(rt: RuntimeDep, user: StaffUser = RetentionManager) -> list[PolicyOut]:
    with rt.sessions() as db:
        return [_policy(p) for p in service.policies(db).values()]


def _policy(p: RetentionPolicy) -> PolicyOut:
    return PolicyOut(
        category=p.category,
        keep_days=p.keep_days,
        trigger=p.trigger,
        approvals_required=p.approvals_required,
        approvals_floor=service.approvals_floor(p.category),
        updated_at=p.updated_at,
    )


@router.put(
    "/retention/policies/{category}",
    response_model=PolicyOut,
    responses={
        202: {"model": ChangeRequestOut, "description": "Pending a second supervisor"},
        **responses(404, 422),
    },
)
def set_policy(
    category: str, body: PolicyUpdate, rt: RuntimeDep, user: StaffUser = RetentionManager
) -> PolicyOut | JSONResponse:
    """Raising or lengthening applies at once (200); a change that weakens the rule is only
    a request (202) until a second supervisor confirms it at /api/v1/changes."""
    with transaction(rt.sessions) as db:
        done = change_flows.change_policy(
            db,
            rt.retention,
            user=user,
            category=category,
            keep_days=body.keep_days,
            trigger=body.trigger,
            approvals_required=body.approvals_required,
            now=rt.clock(),
        )
        if done.request is not None:
            out = ChangeRequestOut.of(done.request).model_dump(mode="json")
            return JSONResponse(out, status_code=202)
        return _policy(done.policy)


@router.get("/retention/due")
def due(rt: RuntimeDep, user: StaffUser = RetentionManager) -> list[DueOut]:
    with transaction(rt.sessions) as db:
        return [_due(d) for d in disposition.list_due(db, user=user, now=rt.clock())]


@router.get("/retention/forecast")
def forecast(
    rt: RuntimeDep,
    user: StaffUser = RetentionManager,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
) -> list[ForecastOut]:
    with transaction(rt.sessions) as db:
        return [
            ForecastOut(
                evidence_id=e.id,
                category=e.retention_category,
                retain_until=e.retain_until,
                held=bool(service.active_holds(db, e.id)),
            )
            for e in disposition.list_forecast(db, user=user, now=rt.clock(), days=days)
        ]


@router.post("/retention/due/{evidence_id}/approval", responses=responses(404, 409))
def approve(evidence_id: str, rt: RuntimeDep, user: StaffUser = Approver) -> DueOut:
    with transaction(rt.sessions) as db:
        return _due(disposition.approve(db, user=user, evidence_id=evidence_id, now=rt.clock()))


@router.put("/evidence/{evidence_id}/retention", responses=responses(404, 409))
def override(
    evidence_id: str, body: OverrideIn, rt: RuntimeDep, user: StaffUser = RetentionManager
) -> ForecastOut:
    with transaction(rt.sessions) as db:
        item: Evidence = service.override(
            db,
            rt.retention,
            user=user,
            evidence_id=evidence_id,
            until=body.until,
            reason=body.reason,
            now=rt.clock(),
        )
        return ForecastOut(
            evidence_id=item.id,
            category=item.retention_category,
            retain_until=item.retain_until,
            held=bool(service.active_holds(db, item.id)),
        )


@router.post("/evidence/{evidence_id}/holds", status_code=201, responses=responses(404, 409))
def place_hold(
    evidence_id: str, body: HoldCreate, rt: RuntimeDep, user: StaffUser = Holder
) -> HoldOut:
    with transaction(rt.sessions) as db:
        return _hold(
            service.place_hold(
                db,
                rt.retention,
                user=user,
                evidence_id=evidence_id,
                reason=body.reason,
                case_reference=body.case_reference,
                now=rt.clock(),
            )
        )


@router.post("/holds/{hold_id}/release", responses=responses(404, 409))
def release_hold(
    hold_id: str, body: HoldRelease, rt: RuntimeDep, user: StaffUser = Holder
) -> HoldOut:
    with transaction(rt.sessions) as db:
        return _hold(
            service.release_hold(
                db, rt.retention, user=user, hold_id=hold_id, reason=body.reason, now=rt.clock()
            )
        )
