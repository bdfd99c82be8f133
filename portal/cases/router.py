"""Case routes: thin wrappers over cases/service.py and flows/cases.py."""

from __future__ import annotations

from fastapi import APIRouter

from portal.auth.models import StaffUser
from portal.cases import service
from portal.cases.models import Case
from portal.cases.schemas import CaseClose, CaseCreate, CaseOut, LinkRequest
from portal.db import transaction
from portal.deps import CaseWorker, RuntimeDep
from portal.errors import responses
from portal.flows import cases as case_flows

router = APIRouter(prefix="/api/v1", tags=["cases"], responses=responses(401, 403))


def _case_out(case: Case, count: int) -> CaseOut:
    return CaseOut(
        id=case.id,
        title=case.title,
        reference=case.reference,
        status=case.status,
        offense=case.offense,
        created_at=case.created_at,
        evidence_count=count,
    )


@router.post("/cases", status_code=201)
def create_case(body: CaseCreate, rt: RuntimeDep, user: StaffUser = CaseWorker) -> CaseOut:
    with transaction(rt.sessions) as db:
        case = service.create(
            db,
            user=user,
            title=body.title,
            reference=body.reference,
            offense=body.offense,
            now=rt.clock(),
        )
        return _case_out(case, 0)


@router.get("/cases")
def list_cases(rt: RuntimeDep, user: StaffUser = CaseWorker) -> list[CaseOut]:
    with rt.sessions() as db:
        return [_case_out(c, n) for c, n in service.list_cases(db)]


@router.post("/cases/{case_id}/evidence", status_code=204, responses=responses(404, 409, 410))
def link(case_id: str, body: LinkRequest, rt: RuntimeDep, user: StaffUser = CaseWorker) -> None:
    with transaction(rt.sessions) as db:
        case_flows.link(
            db,
            rt.retention,
            user=user,
            case_id=case_id,
            evidence_id=body.evidence_id,
            now=rt.clock(),
            withdrawn_reason=body.withdrawn_reason,
        )


@router.delete("/cases/{case_id}/evidence/{evidence_id}", status_code=204, responses=responses(404))
def unlink(case_id: str, evidence_id: str, rt: RuntimeDep, user: StaffUser = CaseWorker) -> None:
    with transaction(rt.sessions) as db:
        case_flows.unlink(
            db, rt.retention, user=user, case_id=case_id, evidence_id=evidence_id, now=rt.clock()
        )


@router.post("/cases/{case_id}/close", responses=responses(404, 409))
def close_case(
    case_id: str, body: CaseClose, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> dict[str, str]:
    with transaction(rt.sessions) as db:
        done = case_flows.close(
            db, rt.retention, user=user, case_id=case_id, offense=body.offense, now=rt.clock()
        )
        case = done.case
        out = {"id": case.id, "status": case.status, "offense": case.offense}
        if done.request is not None:  # a downgrade waits for a second supervisor
            out["offense_request"] = done.request.id
        return out


@router.post("/cases/{case_id}/reopen", responses=responses(404, 409))
def reopen_case(case_id: str, rt: RuntimeDep, user: StaffUser = CaseWorker) -> dict[str, str]:
    with transaction(rt.sessions) as db:
        case = case_flows.reopen(db, rt.retention, user=user, case_id=case_id, now=rt.clock())
        return {"id": case.id, "status": case.status, "offense": case.offense}
