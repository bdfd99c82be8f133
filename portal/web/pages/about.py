"""A plain-language page for witnesses: what the custody log and its timestamps prove."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from portal.web.rendering import render
from portal.web.routing import router


@router.get("/about/log")
def about_log(request: Request) -> HTMLResponse:
    return render(request, "witness/about_log.html")
