"""The pages a share's recipient (a prosecutor or defence lawyer) sees: sign in with the
one-time code, the shared items, playback, downloads and the court bundle.

Every request resolves the share again, so a revoked or expired share stops at once, even in
the middle of a session; each look, range and download is a custody event naming the share.
Witness identity (file names, the bundle's identity section) appears only when the share
includes it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import Form, Header, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from portal.db import transaction
from portal.deps import RuntimeDep, client_host
from portal.errors import RateLimited
from portal.evidence import content as serving
from portal.evidence import ranges
from portal.flows import export as export_flow
from portal.runtime import Runtime
from portal.shares import service as shares
from portal.shares.models import Share
from portal.web.i18n import Translator
from portal.web.rendering import language, render, secure, see_other
from portal.web.routing import router
from portal.web.security import delete_cookie, set_cookie

_COOKIE = "portal_share"


def cookie_name(is_https: bool) -> str:
    return f"__Host-{_COOKIE}" if is_https else _COOKIE


def _share(request: Request, rt: Runtime, share_id: str) -> Share:
    """The live share of this session (ShareEnded, or back to sign in, otherwise)."""
    token = request.cookies.get(cookie_name(secure(request)))
    with rt.sessions() as db:
        return shares.resolve(db, share_id=share_id, token=token, now=rt.clock())


def _signin(
    request: Request, share_id: str, *, status: int = 200, error: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "share/signin.html",
        status=status,
        share_id=share_id,
        error=error,
        lang_path=f"/web/share/{share_id}",
    )


@router.get("/share/{share_id}")
def signin_page(request: Request, share_id: str, rt: RuntimeDep) -> Response:
    with rt.sessions() as db:
        shares.check_open(db, share_id=share_id, now=rt.clock())
    return _signin(request, share_id)


@router.post("/share/{share_id}")
async def signin(
    request: Request,
    share_id: str,
    rt: RuntimeDep,
    code: Annotated[str, Form(max_length=64)],
) -> Response:
    def run() -> str | None:
        rt.count_request("logins", client_host(request))
        # A share's code earns the same waits as a staff password.
        limits = rt.login_policy
        with transaction(rt.sessions) as db:
            return shares.sign_in(db, share_id=share_id, code=code, limits=limits, now=rt.clock())

    t = Translator(language(request))
    try:
        token = await run_in_threadpool(run)  # a failure is committed before we answer
    except RateLimited as limited:
        page = _signin(request, share_id, status=429, error=t("staff.rate_limited_short"))
        page.headers.update(limited.headers)
        return page
    if token is None:
        return _signin(request, share_id, status=401, error=t("share.bad_code"))
    is_https = secure(request)
    response = see_other(f"/web/share/{share_id}/items")
    set_cookie(response, cookie_name(is_https), token, secure=is_https)
    return response


@router.get("/share/{share_id}/items")
def items_page(request: Request, share_id: str, rt: RuntimeDep) -> HTMLResponse:
    share = _share(request, rt, share_id)
    with transaction(rt.sessions) as db:
        items = shares.with_review_copies(db, shares.listed(db, share=share, now=rt.clock()))
    return render(request, "share/items.html", share=share, items=items)


@router.get("/share/{share_id}/items/{evidence_id}/proxy")
def item_review_copy(request: Request, share_id: str, evidence_id: str, rt: RuntimeDep) -> Response:
    """The review copy (H.264, which every browser plays) in the original's place, logged; it
    names its original so nobody takes it for the evidence itself."""
    share = _share(request, rt, share_id)
    with transaction(rt.sessions) as db:
        item = shares.item_of(db, share=share, evidence_id=evidence_id)
        copy = shares.review_copy(db, share=share, item=item, now=rt.clock())
        key = copy.key
    headers = {"Cache-Control": "private, no-store", "X-Original-SHA256": item.sha256}
    return Response(b"".join(rt.storage.read(key)), media_type="video/mp4", headers=headers)


@router.get("/share/{share_id}/items/{evidence_id}/content")
def item_content(
    request: Request,
    share_id: str,
    evidence_id: str,
    rt: RuntimeDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    download: bool = False,
) -> Response:
    """Playback by Range, or the whole original checked as it goes; each one logged."""
    share = _share(request, rt, share_id)
    with transaction(rt.sessions) as db:
        item = shares.item_of(db, share=share, evidence_id=evidence_id)
        name = item.filename if share.include_identity else item.sha256
        headers = {
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, no-store",
            "X-Content-SHA256": item.sha256,
        }
        if download:
            shares.record_download(db, share=share, item=item, now=rt.clock())
            headers["Content-Disposition"] = serving.attachment(name, fallback=item.sha256)
            headers["Content-Length"] = str(item.size)
            body = serving.checked_original(rt.sessions, rt.storage, item, rt.clock)
            return StreamingResponse(body, media_type=item.media_type, headers=headers)
        span = ranges.parse(range_header, item.size)
        start, end = span or (0, item.size)
        shares.record_stream(
            db,
            share=share,
            item=item,
            span=(start, end),
            idle=rt.settings.playback_idle,
            now=rt.clock(),
        )
        headers["Content-Length"] = str(end - start)
        if span is not None:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{item.size}"
    return StreamingResponse(
        rt.storage.read(item.storage_key, start, end),
        status_code=200 if span is None else 206,
        media_type=item.media_type,
        headers=headers,
    )


@router.get("/share/{share_id}/bundle")
def bundle(request: Request, share_id: str, rt: RuntimeDep) -> Response:
    """The case's self-verifying court bundle, of the shared items only (logged as an export
    whose actor is the share)."""
    share = _share(request, rt, share_id)
    shares.ensure_download(share)
    folder = Path(tempfile.mkdtemp(prefix="share-bundle-"))
    dest = folder / "bundle.zip"
    result = export_flow.export_case(
        rt,
        case_id=share.case_id,
        actor=shares.actor_of(share),
        include_witness_identity=share.include_identity,
        dest=dest,
        language=language(request),
        only=list(share.evidence_ids),
    )

    def clean() -> None:
        dest.unlink(missing_ok=True)
        folder.rmdir()

    return FileResponse(
        dest,
        media_type="application/zip",
        filename=f"bundle-{share.case_id}-{result.log_index}.zip",
        headers={"Cache-Control": "private, no-store"},
        background=BackgroundTask(clean),
    )


@router.post("/share/{share_id}/logout")
def share_logout(request: Request, share_id: str) -> Response:
    response = see_other(f"/web/share/{share_id}")
    delete_cookie(response, cookie_name(secure(request)), secure=secure(request))
    return response
