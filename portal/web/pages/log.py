"""The staff page for the custody log: the latest signed checkpoint and the key to check it."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from portal.custody import service as custody
from portal.deps import RuntimeDep
from portal.web.access import StaffUserDep
from portal.web.rendering import render
from portal.web.routing import router


@router.get("/staff/log")
def log_page(request: Request, rt: RuntimeDep, user: StaffUserDep) -> HTMLResponse:
    with rt.sessions() as db:
        latest = custody.latest_checkpoint(db)
    return render(
        request,
        "staff/log.html",
        user=user,
        checkpoint=latest.note if latest else None,
        size=latest.size if latest else 0,
        public_key=rt.log_verifier,
    )
