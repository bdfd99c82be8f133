"""The staff page for accounts: who may log in, with which role (an admin's first page)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from portal.auth import service as staff_auth
from portal.deps import RuntimeDep
from portal.web.access import UserAdmin
from portal.web.rendering import render
from portal.web.routing import router


@router.get("/staff/users")
def users_page(request: Request, rt: RuntimeDep, user: UserAdmin) -> HTMLResponse:
    with rt.sessions() as db:
        rows = staff_auth.list_users(db)
    return render(request, "staff/users.html", user=user, rows=rows)
