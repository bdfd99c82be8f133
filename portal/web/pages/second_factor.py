"""A staff member enrols a TOTP second factor: name and password, then the QR code and the
first code, then the recovery codes, shown once (`portal.auth.service.enrol`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from portal.auth import mfa
from portal.auth import service as staff_auth
from portal.db import transaction
from portal.deps import RuntimeDep, client_host
from portal.errors import Conflict, RateLimited
from portal.web.i18n import Translator
from portal.web.rendering import language, render
from portal.web.routing import router

PAGE = "staff/second_factor.html"
Name = Annotated[str, Form(max_length=200)]
Password = Annotated[str, Form(max_length=1024)]


def _refused(request: Request, name: str, key: str, status: int) -> HTMLResponse:
    error = Translator(language(request))(key)
    return render(request, PAGE, status=status, stage="start", name=name, error=error)


@router.get("/staff/second-factor")
def second_factor_page(request: Request, name: str = "") -> HTMLResponse:
    return render(request, PAGE, stage="start", name=name[:64], error=None)


@router.post("/staff/second-factor")
async def start_second_factor(
    request: Request, rt: RuntimeDep, username: Name, password: Password
) -> Response:
    def run() -> tuple[staff_auth.LoginResult, mfa.Enrolment | None]:
        rt.count_request("logins", client_host(request))
        with transaction(rt.sessions) as db:
            return staff_auth.enrol(
                db, name=username, password=password, policy=rt.login_policy, now=rt.clock()
            )

    try:
        result, enrolment = await run_in_threadpool(run)
    except RateLimited:
        return _refused(request, username, "staff.rate_limited_short", 429)
    except Conflict:
        return _refused(request, username, "mfa.already", 409)
    if enrolment is None or result.failure is not None:
        return _refused(request, username, "staff.bad_login", 401)
    return render(
        request,
        PAGE,
        stage="confirm",
        name=username,
        secret=enrolment.secret,
        qr=Markup(enrolment.qr_svg),  # made by segno from our own URI
        error=None,
    )


@router.post("/staff/second-factor/confirm")
async def confirm_second_factor(
    request: Request,
    rt: RuntimeDep,
    username: Name,
    password: Password,
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    def run() -> tuple[staff_auth.LoginResult, list[str] | None]:
        rt.count_request("logins", client_host(request))
        with transaction(rt.sessions) as db:
            return staff_auth.confirm_enrolment(
                db,
                name=username,
                password=password,
                code=code,
                policy=rt.login_policy,
                now=rt.clock(),
            )

    try:
        result, codes = await run_in_threadpool(run)
    except RateLimited:
        return _refused(request, username, "staff.rate_limited_short", 429)
    except Conflict:
        return _refused(request, username, "mfa.start_again", 409)
    if codes is None or result.failure is not None:
        return _refused(request, username, "mfa.bad_code", 401)
    return render(request, PAGE, stage="done", name=username, codes=codes, error=None)
