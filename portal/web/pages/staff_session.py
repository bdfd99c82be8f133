"""Staff log in and out: a session cookie (`portal.auth.service.login`) and a fresh CSRF token
for each new session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from portal.auth import service as staff_auth
from portal.auth.models import StaffUser
from portal.auth.permissions import Permission, allowed
from portal.db import transaction
from portal.deps import RuntimeDep, client_host
from portal.errors import RateLimited
from portal.web import oidc_support
from portal.web.access import StaffUserDep
from portal.web.i18n import Translator
from portal.web.pages import passkeys as passkey_pages
from portal.web.rendering import language, render, runtime_of, secure, see_other
from portal.web.routing import router
from portal.web.security import (
    csrf_cookie,
    delete_cookie,
    new_csrf_token,
    session_cookie,
    set_cookie,
)


def _safe_next(value: str | None) -> str:
    """Only our own staff pages: never an open redirect."""
    if value and value.startswith("/web/staff/") and "//" not in value and "\\" not in value:
        return value
    return ""


# Each role's own first page: the work it does most (and one it may open).
HOMES = {
    "investigator": "/web/staff/queue",
    "supervisor": "/web/staff/retention",
    "auditor": "/web/staff/log",
    "admin": "/web/staff/users",
}


def _home(user: StaffUser) -> str:
    home = HOMES.get(user.role)
    if home is not None:
        return home
    return "/web/staff/queue" if allowed(user.role, Permission.EVIDENCE_READ) else "/web/staff/log"


@router.get("/staff/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(
        request, "staff/login.html", error=None, next=_safe_next(next), name="", sso=_sso(request)
    )


def _sso(request: Request) -> str | None:
    """The provider's name for the "Sign in with" button, when single sign-on is on."""
    settings = runtime_of(request).settings
    return settings.oidc_name if oidc_support.enabled(settings) else None


def _refused(request: Request, result: staff_auth.LoginResult, *, next: str, name: str) -> Response:
    # Only the right password of an account that must enrol a second factor is told so;
    # every other refusal gets one answer (see auth.service.login).
    enrol = result.failure == staff_auth.NOT_ENROLLED
    return render(
        request,
        "staff/login.html",
        status=403 if enrol else 401,
        error=None if enrol else Translator(language(request))("staff.bad_login"),
        enrol=enrol,
        next=_safe_next(next),
        name=name,
        sso=_sso(request),
    )


@router.post("/staff/login")
async def login(
    request: Request,
    rt: RuntimeDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    passkey: Annotated[str, Form(max_length=16384)] = "",
) -> Response:
    def run() -> staff_auth.LoginResult:
        rt.count_request("logins", client_host(request))
        with transaction(rt.sessions) as db:
            return staff_auth.login(
                db,
                name=username,
                password=password,
                policy=rt.login_policy,
                now=rt.clock(),
                code=code,
                passkey=passkey,
                rp=passkey_pages.relying_party(request, rt),
            )

    try:
        result = await run_in_threadpool(run)  # the failure is committed before we answer
    except RateLimited as limited:
        t = Translator(language(request))
        minutes = max(1, -(-limited.retry_after // 60))
        page = render(
            request,
            "staff/login.html",
            status=429,
            error=t("staff.rate_limited", minutes=minutes),
            next=_safe_next(next),
            name=username,
        )
        page.headers.update(limited.headers)
        return page
    if result.failure is not None or result.token is None or result.user is None:
        return _refused(request, result, next=next, name=username)
    is_https = secure(request)
    target = _safe_next(next) or _home(result.user)
    response = see_other(target)
    ttl = int(rt.settings.session_ttl.total_seconds())
    set_cookie(response, session_cookie(is_https), result.token, secure=is_https, max_age=ttl)
    # A new CSRF token for the new session: one planted before login is worthless after.
    set_cookie(response, csrf_cookie(is_https), new_csrf_token(), secure=is_https)
    return response


@router.post("/staff/logout")
def logout(request: Request, rt: RuntimeDep) -> Response:
    is_https = secure(request)
    token = request.cookies.get(session_cookie(is_https))
    if token:
        with transaction(rt.sessions) as db:
            staff_auth.logout(db, token=token, now=rt.clock())
    # Signed in through the provider: end its session there too, when it offers that (by a
    # page that moves on: the pages' CSP `form-action 'self'` blocks a form's redirect away).
    at_provider = oidc_support.provider_logout(request, rt)
    response: Response = see_other("/web/staff/login")
    if at_provider:
        response = render(
            request, "staff/oidc_continue.html", heading="oidc.signed_out", target=at_provider
        )
    oidc_support.forget(response, is_https)
    delete_cookie(response, session_cookie(is_https), secure=is_https)
    delete_cookie(response, csrf_cookie(is_https), secure=is_https)
    return response


@router.get("/staff")
@router.get("/staff/")
def staff_home(user: StaffUserDep) -> Response:
    return see_other(_home(user))
