"""What every page answers with: a template rendered in the visitor's language (with the CSRF
token its forms carry), the error page, and the redirect after a form."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from portal.auth.models import StaffUser
from portal.auth.permissions import Permission, allowed
from portal.errors import Invalid, PortalError
from portal.runtime import Runtime
from portal.web import i18n
from portal.web.field_errors import FormInvalid
from portal.web.i18n import Translator
from portal.web.security import (
    CSRF_FIELD,
    CsrfRefused,
    csrf_cookie,
    is_secure,
    new_csrf_token,
    set_cookie,
)


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def secure(request: Request) -> bool:
    return is_secure(request, runtime_of(request).settings.public_url)


def translator(request: Request) -> Translator:
    """The visitor's language and the portal's time zone, for what a page prepares."""
    return Translator(language(request), time_zone=runtime_of(request).settings.time_zone)


def language(request: Request) -> str:
    return i18n.choose(
        request.query_params.get("lang"),
        request.cookies.get(i18n.COOKIE),
        request.headers.get("accept-language"),
    )


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("portal.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    user: StaffUser | None = None,
    lang_path: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """`lang_path`: where the language switch leads when this page answers a POST (a GET
    there must show the same page)."""
    t = translator(request)
    lang = t.lang
    is_https = secure(request)
    csrf = request.cookies.get(csrf_cookie(is_https))
    fresh = None
    if not csrf:
        csrf = fresh = new_csrf_token()
    other = "en" if lang == "es" else "es"
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "done")}
    switch = (lang_path or request.url.path) + "?" + urlencode({**query, "lang": other})

    def can(permission: str) -> bool:
        return user is not None and allowed(user.role, Permission(permission))

    html = (
        environment()
        .get_template(template)
        .render(
            t=t,
            lang=lang,
            other_lang=other,
            lang_url=switch,
            csrf=csrf,
            csrf_field=CSRF_FIELD,
            user=user,
            can=can,
            js_strings=t.js_strings(),
            https_needed=is_https
            and request.url.scheme != "https"
            and not runtime_of(request).settings.public_url.lower().startswith("https:"),
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if fresh:
        set_cookie(response, csrf_cookie(is_https), fresh, secure=is_https)
    chosen = request.query_params.get("lang")
    if chosen in i18n.LANGUAGES:
        set_cookie(response, i18n.COOKIE, str(chosen), secure=is_https, max_age=365 * 24 * 3600)
    return response


def error_page(request: Request, exc: PortalError) -> HTMLResponse:
    t = translator(request)
    if isinstance(exc, CsrfRefused):
        message = t("error.csrf")
    elif isinstance(exc, FormInvalid):  # pydantic's words are English: each field in ours
        message = t("error.invalid", detail=exc.described(t))
    elif "error." + exc.code in i18n.CATALOGUE:  # a refusal the pages explain in words
        message = t("error." + exc.code, detail=exc.message)
    elif exc.status == 404 and exc.code == "not_found":
        message = t("error.not_found")
    elif exc.status == 403:
        message = t("error.forbidden")
    elif isinstance(exc, Invalid) or exc.status == 422:
        message = t("error.invalid", detail=exc.message)
    else:
        message = exc.message
    staff = request.url.path.startswith("/web/staff")
    response = render(
        request,
        "error.html",
        status=exc.status,
        message=message,
        # /web/staff/ sends each role to its own page.
        back="/web/staff/" if staff else "/web/",
        back_label=t("error.staff_back") if staff else t("error.back"),
    )
    for name, value in exc.headers.items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
