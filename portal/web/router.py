"""Everything under `/web`: every page module's pages, the static files and a "no such page"
for the rest; and `root_router`, which sends `/` to the witness start page."""

from __future__ import annotations

import gzip
import re
from functools import cache
from importlib import resources
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from portal.errors import NotFound

# Each page module adds its pages to `router` as it is imported; the catch-all below comes last.
from portal.web.pages import (  # noqa: F401
    about,
    audit,
    bulk,
    cases,
    changes,
    evidence,
    log,
    oidc,
    passkeys,
    redactions,
    request_forms,
    requests,
    retention,
    second_factor,
    sessions,
    share_recipient,
    shares,
    staff_session,
    users,
    witness,
    witness_receipt,
    witness_status,
)
from portal.web.routing import router
from portal.web.security import add_headers

__all__ = ["root_router", "router"]

STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
}
STATIC_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# --- static files ------------------------------------------------------------------------------


@cache
def _static(path: str) -> tuple[bytes, str] | None:
    parts = path.split("/")
    if not all(STATIC_PART.match(p) for p in parts):
        return None
    suffix = "." + parts[-1].rsplit(".", 1)[-1] if "." in parts[-1] else ""
    media = STATIC_TYPES.get(suffix)
    if media is None:
        return None
    node = resources.files("portal.web").joinpath("static", *parts)
    if not node.is_file():
        return None
    return node.read_bytes(), media


@cache
def _gzipped(path: str) -> bytes | None:
    """The file compressed once (the files are fixed while the app runs); None if that
    does not make it smaller (an SVG icon)."""
    found = _static(path)
    if found is None:
        return None
    packed = gzip.compress(found[0], compresslevel=9, mtime=0)
    return packed if len(packed) < len(found[0]) else None


@router.get("/static/{path:path}")
def static(path: str, request: Request) -> Response:
    found = _static(path)
    if found is None:
        raise NotFound("no such file")
    data, media = found
    headers = {"Cache-Control": "public, max-age=3600", "Vary": "Accept-Encoding"}
    # Phones on poor links: tus.min.js and the CSS shrink to a third or less.
    packed = _gzipped(path) if "gzip" in request.headers.get("accept-encoding", "") else None
    if packed is not None:
        data = packed
        headers["Content-Encoding"] = "gzip"
    return Response(data, media_type=media, headers=headers)


# Last: anything else under /web.
@router.get("/{path:path}")
def not_found(path: str) -> Response:
    raise NotFound("no such page")


# `/` sends people to the witness start page (optional: include it in the app too).
root_router = APIRouter(include_in_schema=False)


@root_router.get("/")
def root() -> Response:
    response = RedirectResponse("/web/", status_code=307)
    add_headers(response)
    return response


@root_router.get("/r/{code}")
def request_short(code: str, request: Request) -> Response:
    """The short address on posters and in QR codes: the request's page under /web."""
    # Any code: the page says, in the witness's language, when it leads nowhere.
    query = f"?{request.url.query}" if request.url.query else ""
    response = RedirectResponse(f"/web/r/{quote(code[:40], safe='')}{query}", status_code=307)
    add_headers(response)
    return response
