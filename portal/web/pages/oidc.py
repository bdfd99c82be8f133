"""Staff sign in through the OpenID provider (PORTAL_OIDC_ISSUER): the start, the callback
and the provider's half of logout. The protocol checks are auth/oidc.py's, the account and
role decisions flows/oidc_signin.py's; every refusal is logged and shown as a page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from portal.auth import identities, oidc
from portal.db import transaction
from portal.deps import RuntimeDep, base_url
from portal.flows.oidc_signin import RoleMapping, sign_in
from portal.runtime import Runtime
from portal.web.oidc_support import FLOW_COOKIE, ID_TOKEN_COOKIE, cookie_name, provider_of
from portal.web.pages.staff_session import _home as home
from portal.web.pages.staff_session import _safe_next as safe_next
from portal.web.rendering import render, secure, see_other
from portal.web.routing import router
from portal.web.security import csrf_cookie, new_csrf_token, session_cookie, set_cookie

# Reasons the page explains as they are; every other one is a protocol check that failed.
_EXPLAINED = {
    "unmapped_role",
    "several_roles",
    "pending",
    "disabled",
    "second_factor_not_asserted",
    "name_taken",
    "provider_unreachable",
}


def _callback_url(request: Request, rt: Runtime) -> str:
    return base_url(request, rt) + "/web/staff/oidc/callback"


@router.get("/staff/oidc/start")
def oidc_start(request: Request, rt: RuntimeDep, next: str | None = None) -> Response:
    provider = provider_of(rt.settings)
    try:
        meta = oidc.discover(provider)
    except oidc.OidcRefused as refused:
        return _refused(request, rt, refused)
    url, flow = oidc.begin(
        provider, meta, redirect_uri=_callback_url(request, rt), next=safe_next(next)
    )
    response = see_other(url)
    is_https = secure(request)
    # SameSite=Lax, not Strict: the browser must carry it on the provider's redirect back.
    response.set_cookie(
        cookie_name(FLOW_COOKIE, is_https),
        flow.dump(),
        max_age=oidc.FLOW_TTL,
        path="/web/staff/oidc/",
        secure=is_https,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/staff/oidc/callback")
def oidc_callback(request: Request, rt: RuntimeDep) -> Response:
    provider = provider_of(rt.settings)
    is_https = secure(request)
    params = {k: v[:4096] for k, v in request.query_params.items()}
    try:
        flow = oidc.Flow.load(request.cookies.get(cookie_name(FLOW_COOKIE, is_https)))
        meta = oidc.discover(provider)
        code = oidc.check_callback(meta, flow, params)
        claims, id_token = oidc.redeem(
            provider, meta, flow, code=code, redirect_uri=_callback_url(request, rt)
        )
    except oidc.OidcRefused as refused:
        return _refused(request, rt, refused)
    with transaction(rt.sessions) as db:
        result = sign_in(
            db,
            claims=claims,
            mapping=RoleMapping.of(rt.settings),
            policy=rt.login_policy,
            now=rt.clock(),
        )
    if result.token is None or result.user is None:
        return _page(request, result.refusal or "untrusted")
    # A page, not a redirect: the session cookie is SameSite=Strict, and a redirect chain
    # that began at the provider is cross-site, so the browser would not send it yet.
    target = flow.next or home(result.user)
    response = render(request, "staff/oidc_continue.html", heading="oidc.done", target=target)
    ttl = int(rt.settings.session_ttl.total_seconds())
    set_cookie(response, session_cookie(is_https), result.token, secure=is_https, max_age=ttl)
    set_cookie(response, csrf_cookie(is_https), new_csrf_token(), secure=is_https)
    set_cookie(
        response, cookie_name(ID_TOKEN_COOKIE, is_https), id_token, secure=is_https, max_age=ttl
    )
    response.delete_cookie(
        cookie_name(FLOW_COOKIE, is_https), path="/web/staff/oidc/", secure=is_https
    )
    return response


def _refused(request: Request, rt: Runtime, refused: oidc.OidcRefused) -> HTMLResponse:
    with transaction(rt.sessions) as db:
        identities.refused(
            db, reason=refused.reason, now=rt.clock(), issuer=rt.settings.oidc_issuer
        )
    response = _page(request, refused.reason)
    response.delete_cookie(
        cookie_name(FLOW_COOKIE, secure(request)), path="/web/staff/oidc/", secure=secure(request)
    )
    return response


def _page(request: Request, reason: str) -> HTMLResponse:
    why = reason if reason in _EXPLAINED else "untrusted"
    status = 502 if why == "provider_unreachable" else 400 if why == "untrusted" else 403
    return render(request, "staff/oidc_refused.html", status=status, why=why)
