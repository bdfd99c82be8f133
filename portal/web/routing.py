"""The one router every page module adds its pages to, and how its routes behave: errors
become pages, staff without a session go to the login page, every response carries the
security headers and every POST the form's CSRF token."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from portal.errors import NotFound, PortalError, Unauthorized
from portal.web.field_errors import FormInvalid
from portal.web.rendering import error_page, secure
from portal.web.security import CSRF_FIELD, add_headers, check_csrf


class LoginRequired(Unauthorized):
    code = "login_required"


class WebRoute(APIRoute):
    """Errors become HTML pages (or a redirect to the login page); every response gets the
    security headers, errors included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                response = RedirectResponse(login_url(request), status_code=303)
            except PortalError as exc:
                response = error_page(request, exc)
            except RequestValidationError as exc:
                response = error_page(request, FormInvalid(exc.errors(), skip=1))
            add_headers(response)
            return response

        return run


async def csrf_guard(request: Request) -> None:
    """Every POST to the web pages carries the form's CSRF token."""
    if request.method != "POST":
        return
    form = await request.form()
    check_csrf(request, form.get(CSRF_FIELD), secure=secure(request))


# One router shared by the page modules rather than one each included into it: FastAPI keeps
# an included router as one lazy entry, and `router.routes` must list every page (the web
# permission matrix is checked route by route).
router = APIRouter(
    prefix="/web",
    route_class=WebRoute,
    dependencies=[Depends(csrf_guard)],
    include_in_schema=False,
)


def login_url(request: Request) -> str:
    target = request.url.path if request.method == "GET" else ""
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return "/web/staff/login" + ("?" + urlencode({"next": target}) if target else "")


def install_not_found_page(app: FastAPI) -> None:
    """An address nothing answers (outside /web/ too) is a page for a browser, in its
    language; an API client (no text/html in Accept) keeps the JSON error."""
    json_handler = app.exception_handlers[StarletteHTTPException]

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and "text/html" in request.headers.get("accept", ""):
            response: Response = error_page(request, NotFound("no such page"))
            add_headers(response)
            return response
        answer = json_handler(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(StarletteHTTPException, not_found)
