"""The staff page for accounts: who may log in, with which role (an admin's first page), and
an admin's request to reset someone's second factor (a second admin confirms it on the
change requests page, as through /api/v1/changes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from portal.auth import mfa
from portal.auth import service as staff_auth
from portal.auth.models import StaffUser
from portal.auth.permissions import Permission
from portal.db import transaction
from portal.deps import RuntimeDep
from portal.flows import changes as change_flows
from portal.web.access import UserAdmin, need
from portal.web.forms import confirmed
from portal.web.rendering import render, see_other
from portal.web.routing import router

# Who may ask for a reset: the API's `Admins` (portal.auth.router).
Admin = Annotated[StaffUser, need(Permission.MANAGE_USERS)]


@router.get("/staff/users")
def users_page(request: Request, rt: RuntimeDep, user: UserAdmin) -> HTMLResponse:
    with rt.sessions() as db:
        rows = staff_auth.list_users(db)
        enrolled = {u.id for u in rows if mfa.factor(db, user=u) is not None}
    return render(request, "staff/users.html", user=user, rows=rows, enrolled=enrolled)


@router.post("/staff/users/{user_id}/second-factor/reset")
def request_second_factor_reset(
    user_id: str,
    rt: RuntimeDep,
    user: Admin,
    confirm: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    confirmed(confirm)  # it removes a protection: a ticked box, as for destruction
    with transaction(rt.sessions) as db:
        change_flows.request_second_factor_reset(db, by=user, user_id=user_id, now=rt.clock())
    return see_other("/web/staff/changes")
