"""Change-request routes: list the pending ones, confirm another's, withdraw one's own."""

from __future__ import annotations

from fastapi import APIRouter

from portal.auth.models import StaffUser
from portal.changes import service as changes
from portal.changes.schemas import ChangeRequestOut
from portal.db import transaction
from portal.deps import ChangeConfirmer, ChangeRequester, RuntimeDep
from portal.errors import responses
from portal.flows import changes as change_flows
from portal.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["changes"], responses=responses(401, 403))


def _lapse(rt: Runtime) -> None:
    """Lapse (and log) the requests that waited too long, in a transaction of its own so
    that the lapse is kept even when the step that follows is refused."""
    with transaction(rt.sessions) as db:
        changes.expire(db, ttl=rt.settings.change_request_ttl, now=rt.clock())


@router.get("/changes")
def pending(rt: RuntimeDep, user: StaffUser = ChangeRequester) -> list[ChangeRequestOut]:
    _lapse(rt)
    with rt.sessions() as db:
        return [ChangeRequestOut.of(r) for r in changes.pending(db)]


@router.post("/changes/{request_id}/confirm", responses=responses(404, 409))
def confirm(request_id: str, rt: RuntimeDep, user: StaffUser = ChangeConfirmer) -> ChangeRequestOut:
    _lapse(rt)
    with transaction(rt.sessions) as db:
        req = change_flows.confirm(
            db,
            rt.retention,
            user=user,
            request_id=request_id,
            now=rt.clock(),
        )
        return ChangeRequestOut.of(req)


@router.post("/changes/{request_id}/withdraw", responses=responses(404, 409))
def withdraw(
    request_id: str, rt: RuntimeDep, user: StaffUser = ChangeRequester
) -> ChangeRequestOut:
    _lapse(rt)
    with transaction(rt.sessions) as db:
        req = changes.withdraw(
            db,
            user=user,
            request_id=request_id,
            now=rt.clock(),
        )
        return ChangeRequestOut.of(req)
