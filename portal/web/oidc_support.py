"""What the staff sign-in pages share about the OpenID provider: whether it is configured,
its cookies, and the provider's half of logout (RP-initiated logout)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from portal.auth import oidc
from portal.config import Settings
from portal.deps import base_url
from portal.errors import NotFound
from portal.runtime import Runtime
from portal.web.rendering import secure

FLOW_COOKIE = "portal_oidc_flow"
ID_TOKEN_COOKIE = "portal_oidc_id"


def cookie_name(base: str, is_https: bool) -> str:
    return f"__Host-{base}" if is_https else base


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def provider_of(settings: Settings) -> oidc.Provider:
    if not enabled(settings):
        raise NotFound("single sign-on is not configured")
    return oidc.Provider(settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)


def provider_logout(request: Request, rt: Runtime) -> str | None:
    """Where logout continues at the provider (RP-initiated logout), if it advertises it
    and this browser signed in through it."""
    id_token = request.cookies.get(cookie_name(ID_TOKEN_COOKIE, secure(request)))
    if not id_token or not enabled(rt.settings):
        return None
    try:
        meta = oidc.discover(provider_of(rt.settings))
    except oidc.OidcRefused:
        return None  # signed out here; the provider's own session stays (it is unreachable)
    return oidc.logout_url(
        meta,
        id_token=id_token,
        client_id=rt.settings.oidc_client_id,
        after=base_url(request, rt) + "/web/staff/login",
    )


def forget(response: Response, is_https: bool) -> None:
    """Drop the ID token kept for logout."""
    response.delete_cookie(
        cookie_name(ID_TOKEN_COOKIE, is_https),
        path="/",
        secure=is_https,
        httponly=True,
        samesite="strict",
    )
