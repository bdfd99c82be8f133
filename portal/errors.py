"""One exception family for every refusal; one handler renders it as JSON.

Services raise these and never know about HTTP; `install_handlers` maps them (and the
framework's own errors) to `{"error": code, "message": ...}`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


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


def install_handlers(app: FastAPI) -> None:
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
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), exc.headers)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("portal").error("unhandled error", exc_info=exc)
        return error_response(500, "internal", "internal error; nothing was acknowledged")

    app.add_exception_handler(Exception, unexpected)
    app.add_exception_handler(PortalError, portal_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
