"""Structured logs for collectors (PORTAL_LOG_FORMAT=json): one JSON object a line, with the
id of the request it belongs to. Lines never carry a client address, a token or a query
string (witness status codes travel in queries); paths are logged as their route's template.
Hand-written because it is a dozen lines on the standard library's logging, which uvicorn and
the portal already use."""

from __future__ import annotations

import json
import logging
import secrets
import time
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
access = logging.getLogger("portal.access")


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            # Set where the line was written (a handler may format it later, elsewhere).
            "request_id": getattr(record, "request_id", ""),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def use_json_logs(level: int = logging.INFO) -> None:
    """Send every logger (the portal's and uvicorn's) through one JSON handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_WithRequestId())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's own access lines name the client's address: never in these logs.
    logging.getLogger("uvicorn.access").disabled = True


class RequestIds:
    """Give every request an id (X-Request-Id on the answer) that its log lines carry; with
    `log_access`, one access line per request without address or query."""

    def __init__(self, app: ASGIApp, *, log_access: bool) -> None:
        self.app, self.log_access = app, log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        token = REQUEST_ID.set(request_id)
        started, status = time.perf_counter(), 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log_access:
                route = scope.get("route")
                access.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "fields": {
                            "method": scope["method"],
                            "route": getattr(route, "path", "unmatched"),
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 1),
                        },
                    },
                )
            REQUEST_ID.reset(token)
