"""One exception family for every refusal; one handler renders it as JSON.

Services raise these and never know about HTTP; `install_handlers` maps them (and the
framework's own errors) to `{"error": code, "message": ...}`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match


class PortalError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})


class BadRequest(PortalError):
    status, code = 400, "bad_request"


class Unauthorized(PortalError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(PortalError):
    status, code = 403, "forbidden"


class NotFound(PortalError):
    status, code = 404, "not_found"


class Conflict(PortalError):
    status, code = 409, "conflict"


class Gone(PortalError):
    status, code = 410, "gone"


class PreconditionFailed(PortalError):
    status, code = 412, "precondition_failed"


class TooLarge(PortalError):
    status, code = 413, "too_large"


class UnsupportedMediaType(PortalError):
    status, code = 415, "unsupported_media_type"


class Invalid(PortalError):
    """Well-formed request whose content breaks a rule (consent, scopes...)."""

    status, code = 422, "invalid"


class Locked(PortalError):
    status, code = 423, "locked"

    def __init__(self, message: str, *, retry_after: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        if retry_after is not None:
            self.headers.setdefault("Retry-After", str(retry_after))


class ChecksumMismatch(PortalError):
    status, code = 460, "checksum_mismatch"


class StorageUnavailable(PortalError):
    status, code = 503, "storage_unavailable"

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        # tus clients retry on their own; this tells any client when.
        self.headers.setdefault("Retry-After", "5")


class RateLimited(PortalError):
    """Too many requests of one kind from one client in the current window."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.headers.setdefault("Retry-After", str(retry_after))


class InsufficientStorage(PortalError):
    status, code = 507, "insufficient_storage"


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": code, "message": message}, status_code=status, headers=dict(headers or {})
    )


class ErrorOut(BaseModel):
    """The body of every refusal."""

    error: str = Field(description="Stable code for programs, e.g. not_found or tus_version.")
    message: str = Field(description="What was refused and why, for people.")


_PHRASES = {ChecksumMismatch.status: "Checksum Mismatch"}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: the refusals it can answer with, each an ErrorOut body."""
    return {
        s: {"model": ErrorOut, "description": _PHRASES.get(s) or HTTPStatus(s).phrase}
        for s in statuses
    }


def _framework_refusals(schema: dict[str, Any]) -> None:
    """The framework's own refusals as the handlers below render them: 422 for parameters or
    bodies that fail validation (FastAPI documents its own body there), 400 for a body that
    cannot be parsed at all, and 413 for one over the body limit."""
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    error_out = {"application/json": {"schema": ref}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.get("responses", {})
            if "422" in answers:
                answers["422"] = {"description": "Validation Error", "content": error_out}
            if "requestBody" in operation:
                answers.setdefault("400", {"description": "Bad Request", "content": error_out})
                # PORTAL_MAX_BODY_SIZE (portal.http_guards.BodyLimit), on every body route.
                answers.setdefault(
                    "413", {"description": "Content Too Large", "content": error_out}
                )
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path answers to. Starlette's 405 names only the methods of the first
    route whose path matched, though GET and POST on one path are two routes."""
    scope = {k: request.scope.get(k, "") for k in ("type", "path", "root_path")}
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**scope, "method": method, "headers": []})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


def install_handlers(app: FastAPI) -> None:
    framework_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _framework_refusals(framework_openapi())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]

    async def portal_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PortalError)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return error_response(422, "invalid", "; ".join(parts) or "invalid request")

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return error_response(exc.status_code, code, str(exc.detail), headers)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("portal").error("unhandled error", exc_info=exc)
        return error_response(500, "internal", "internal error; nothing was acknowledged")

    app.add_exception_handler(Exception, unexpected)
    app.add_exception_handler(PortalError, portal_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
