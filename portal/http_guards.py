"""Plain ASGI guards around every route: a bounded request body and uncacheable answers.

Plain ASGI rather than BaseHTTPMiddleware, which would sit in the upload byte stream.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.errors import error_response

UPLOADS = "/api/v1/uploads"


class BodyTooLarge(HTTPException):
    """Raised from inside `receive`. An HTTPException, because FastAPI turns any other error
    met while reading a body into a 400 "error parsing the body"."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _streams_upload_bytes(scope: Scope) -> bool:
    # tus PATCH (and a creation-with-upload POST) stream file bytes, bounded by the upload's
    # own declared length and PORTAL_MAX_UPLOAD_SIZE instead.
    return scope["path"].startswith(UPLOADS) and scope["method"] in ("PATCH", "POST")


class BodyLimit:
    """Refuse a body over `limit` bytes with 413 before it is parsed: at once when
    Content-Length says so, else as soon as the bytes received pass it. FastAPI reads a whole
    JSON or form body into memory before any dependency (authentication included) runs."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _streams_upload_bytes(scope):
            await self.app(scope, receive, send)
            return
        declared = MutableHeaders(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            response = error_response(413, "too_large", BodyTooLarge(self.limit).detail)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


class NoStore:
    """`Cache-Control: no-store` on every answer that sets no policy of its own: API answers
    and pages carry witness and evidence data, which no shared or browser cache may keep.
    (Static assets set their own.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_policy)
