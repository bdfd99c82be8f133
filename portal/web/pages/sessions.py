"""A staff member's own sessions: where they are signed in, and ending the ones they left open
(`portal.auth.sessions`)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from portal.auth import service as staff_auth
from portal.auth import sessions
from portal.db import transaction
from portal.deps import RuntimeDep
from portal.web.access import StaffUserDep
from portal.web.rendering import render, secure, see_other
from portal.web.routing import router
from portal.web.security import session_cookie


@router.get("/staff/sessions")
def sessions_page(request: Request, rt: RuntimeDep, user: StaffUserDep) -> HTMLResponse:
    token = request.cookies.get(session_cookie(secure(request)), "")
    with rt.sessions() as db:
        rows = sessions.list_open(
            db, user=user, now=rt.clock(), current=staff_auth.token_hash(token)
        )
    return render(request, "staff/sessions.html", user=user, rows=rows)


@router.post("/staff/sessions/{session_id}/end")
def end_session(session_id: str, rt: RuntimeDep, user: StaffUserDep) -> Response:
    with transaction(rt.sessions) as db:
        sessions.end(db, user=user, by=user, now=rt.clock(), session_id=session_id)
    return see_other("/web/staff/sessions")
