"""Staff pages for the two-person rule: the pending change requests, confirming another's,
withdrawing one's own (the same services as /api/v1/changes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from portal.auth import service as auth
from portal.changes import service as changes
from portal.db import transaction
from portal.deps import RuntimeDep
from portal.flows import changes as change_flows
from portal.runtime import Runtime
from portal.web.access import ChangeConfirmer, ChangeViewer
from portal.web.forms import confirmed
from portal.web.rendering import render, see_other
from portal.web.routing import router

PAGE = "/web/staff/changes"


def _lapse(rt: Runtime) -> None:
    # As the API does: a lapse is logged in its own transaction, kept whatever follows.
    with transaction(rt.sessions) as db:
        changes.expire(db, ttl=rt.settings.change_request_ttl, now=rt.clock())


@router.get("/staff/changes")
def changes_page(request: Request, rt: RuntimeDep, user: ChangeViewer) -> HTMLResponse:
    _lapse(rt)
    with rt.sessions() as db:
        rows = changes.pending(db)
        names = auth.names_of(
            db, user_ids={r.requested_by for r in rows} | {r.target for r in rows}
        )
    return render(request, "staff/changes.html", user=user, rows=rows, names=names)


@router.post("/staff/changes/{request_id}/confirm")
def confirm(
    request_id: str,
    rt: RuntimeDep,
    user: ChangeConfirmer,
    confirm: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    confirmed(confirm)  # it loosens a rule: a ticked box, as for destruction
    _lapse(rt)
    with transaction(rt.sessions) as db:
        change_flows.confirm(db, rt.retention, user=user, request_id=request_id, now=rt.clock())
    return see_other(PAGE)


@router.post("/staff/changes/{request_id}/withdraw")
def withdraw(request_id: str, rt: RuntimeDep, user: ChangeViewer) -> Response:
    _lapse(rt)
    with transaction(rt.sessions) as db:
        changes.withdraw(db, user=user, request_id=request_id, now=rt.clock())
    return see_other(PAGE)
