"""Security for the web pages: response headers, cookie flags and CSRF.

- Every response from the web router carries a strict Content-Security-Policy (no inline
  script or style, nothing from another host, no framing), `nosniff` and `no-referrer`.
- Cookies are HttpOnly and SameSite=Strict, and Secure with the `__Host-` prefix unless the
  request is plain HTTP to a loopback address (a test or a developer's laptop). A plain-HTTP
  request to any other host still gets Secure cookies, which a browser will not send back:
  staff sessions never travel in clear text.
- CSRF: a synchronizer token kept in its own cookie and repeated in every form (double
  submit, compared in constant time), checked on every POST, plus a refusal of any POST the
  browser marks as cross-site (`Sec-Fetch-Site`). The token is replaced at login and logout.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from portal.errors import Forbidden

CSP: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "media-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), payment=(), usb=()",
}

LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
CSRF_FIELD: Final = "csrf"
_SESSION = "portal_session"
_CSRF = "portal_csrf"


class CsrfRefused(Forbidden):
    code = "csrf"


def add_headers(response: Response) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


def is_secure(request: Request, public_url: str | None = None) -> bool:
    """Whether cookies get Secure (and the `__Host-` prefix)."""
    if request.url.scheme == "https" or (public_url or "").lower().startswith("https:"):
        return True
    host = (request.url.hostname or "").strip("[]").lower()
    return host not in LOOPBACK


def _name(base: str, secure: bool) -> str:
    return f"__Host-{base}" if secure else base


def session_cookie(secure: bool) -> str:
    return _name(_SESSION, secure)


def csrf_cookie(secure: bool) -> str:
    return _name(_CSRF, secure)


def set_cookie(
    response: Response, name: str, value: str, *, secure: bool, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def delete_cookie(response: Response, name: str, *, secure: bool) -> None:
    response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="strict")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def check_csrf(request: Request, sent: object, *, secure: bool) -> None:
    """Refuse a POST whose form token does not match its cookie, or that is cross-site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CsrfRefused("cross-site form submissions are refused")
    expected = request.cookies.get(csrf_cookie(secure))
    if not (
        isinstance(sent, str) and expected and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfRefused("the form's CSRF token is missing or does not match")
