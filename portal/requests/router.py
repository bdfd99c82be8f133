"""Evidence-request routes: staff create and manage requests; anyone reads a published one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal.auth.models import StaffUser
from portal.db import transaction
from portal.deps import CaseWorker, RuntimeDep, base_url, rate_limited
from portal.errors import NotFound, responses
from portal.flows import notifications
from portal.requests import poster, service
from portal.requests.models import EvidenceRequest, RequestKind, RequestState
from portal.requests.schemas import (
    PublicRequestOut,
    Recipient,
    RequestCreate,
    RequestOut,
    RequestStats,
    RequestText,
)
from portal.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["requests"])


def witness_url(request: Request, rt: Runtime, code: str) -> str:
    """The short address printed on posters and in the QR code."""
    return f"{base_url(request, rt)}/r/{code}"


def _out(
    request: Request, rt: Runtime, req: EvidenceRequest, stats: RequestStats | None = None
) -> RequestOut:
    return RequestOut.model_validate(
        {
            **service.published(req),
            "id": req.id,
            "kind": req.kind,
            "state": req.state,
            "case_id": req.case_id,
            "url": witness_url(request, rt, req.code),
            "created_at": req.created_at,
            "created_by": req.created_by,
            "ended_at": req.ended_at,
            "used_at": req.used_at,
            "stats": stats,
            "notify_url": req.notify_url,
            "notify_email": req.notify_email,
        }
    )


@router.post("/requests", status_code=201, responses=responses(401, 403, 422))
def create_request(
    body: RequestCreate, request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> RequestOut:
    """A public request; with `recipient`, a one-time link for that one person instead (their
    name and phone kept only as a commitment, the answer carrying the text to send them)."""
    with transaction(rt.sessions) as db:
        req = service.create(
            db,
            user=user,
            body=body,
            recipient_key=rt.recipient_key,
            now=rt.clock(),
            notify=notifications.rules(rt),
        )
        out = _out(request, rt, req)
    if req.kind == RequestKind.INDIVIDUAL:
        out.message = service.message(out.url, req)
    return out


@router.get("/requests", responses=responses(401, 403))
def list_requests(
    request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> list[RequestOut]:
    with rt.sessions() as db:
        reqs = service.list_requests(db)
        stats = service.stats(db, request_ids=[r.id for r in reqs])
        return [_out(request, rt, r, stats[r.id]) for r in reqs]


@router.get("/requests/{evidence_request_id}", responses=responses(401, 403, 404))
def get_request(
    evidence_request_id: str, request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> RequestOut:
    with rt.sessions() as db:
        req = service.get(db, request_id=evidence_request_id)
        return _out(request, rt, req, service.stats(db, request_ids=[req.id])[req.id])


@router.patch("/requests/{evidence_request_id}", responses=responses(401, 403, 404, 409, 422))
def edit_request(
    evidence_request_id: str,
    body: RequestText,
    request: Request,
    rt: RuntimeDep,
    user: StaffUser = CaseWorker,
) -> RequestOut:
    with transaction(rt.sessions) as db:
        req = service.edit(db, user=user, request_id=evidence_request_id, body=body, now=rt.clock())
        return _out(request, rt, req)


@router.post("/requests/{evidence_request_id}/close", responses=responses(401, 403, 404, 409))
def close_request(
    evidence_request_id: str, request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> RequestOut:
    with transaction(rt.sessions) as db:
        req = service.end(
            db, user=user, request_id=evidence_request_id, state=RequestState.CLOSED, now=rt.clock()
        )
        return _out(request, rt, req)


@router.post("/requests/{evidence_request_id}/revoke", responses=responses(401, 403, 404, 409))
def revoke_request(
    evidence_request_id: str, request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> RequestOut:
    with transaction(rt.sessions) as db:
        req = service.end(
            db,
            user=user,
            request_id=evidence_request_id,
            state=RequestState.REVOKED,
            now=rt.clock(),
        )
        return _out(request, rt, req)


@router.post("/requests/{evidence_request_id}/recipient", responses=responses(401, 403, 404))
def check_recipient(
    evidence_request_id: str, body: Recipient, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> dict[str, bool]:
    """Was this one-time link made for this name and phone? (The database cannot say who.)"""
    with rt.sessions() as db:
        req = service.get(db, request_id=evidence_request_id)
        ok = service.recipient_matches(req, key=rt.recipient_key, name=body.name, phone=body.phone)
    return {"matches": ok}


def _artifact(
    request: Request, rt: Runtime, evidence_request_id: str, kind: str
) -> tuple[EvidenceRequest, str]:
    with rt.sessions() as db:
        req = service.get(db, request_id=evidence_request_id)
    # A one-time link gets no QR code nor poster: it is for one person, not a wall.
    if req.kind != RequestKind.PUBLIC:
        raise NotFound(f"a one-time link has no {kind}")
    return req, witness_url(request, rt, req.code)


def _file(data: bytes, media: str) -> Response:
    return Response(data, media_type=media, headers={"Cache-Control": "no-store"})


_PNG = {200: {"content": {"image/png": {}}}, **responses(401, 403, 404)}
_SVG = {200: {"content": {"image/svg+xml": {}}}, **responses(401, 403, 404)}
_PDF = {200: {"content": {"application/pdf": {}}}, **responses(401, 403, 404)}


@router.get("/requests/{evidence_request_id}/qr.png", responses=_PNG, response_class=Response)
def qr_png(
    evidence_request_id: str, request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> Response:
    _, url = _artifact(request, rt, evidence_request_id, "QR code")
    return _file(poster.qr_png(url), "image/png")


@router.get("/requests/{evidence_request_id}/qr.svg", responses=_SVG, response_class=Response)
def qr_svg(
    evidence_request_id: str, request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> Response:
    _, url = _artifact(request, rt, evidence_request_id, "QR code")
    return _file(poster.qr_svg(url), "image/svg+xml")


@router.get("/requests/{evidence_request_id}/poster.pdf", responses=_PDF, response_class=Response)
def poster_pdf(
    evidence_request_id: str, request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> Response:
    """A printable A4 poster in Spanish and English with the QR code."""
    req, url = _artifact(request, rt, evidence_request_id, "poster")
    return _file(poster.poster_pdf(req, url), "application/pdf")


@router.get(
    "/public/requests/{code}",
    dependencies=[rate_limited("request_lookups")],
    responses=responses(404, 410, 429),
)
def public_request(code: str, rt: RuntimeDep) -> PublicRequestOut:
    """What a request published, for anyone holding its code; nothing of its case."""
    with rt.sessions() as db:
        req = service.by_code(db, code=code)
        service.ensure_answerable(req, now=rt.clock())
        return PublicRequestOut.model_validate(service.published(req))
