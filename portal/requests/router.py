"""Evidence-request routes: staff create and manage requests; anyone reads a published one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal.auth.models import StaffUser
from portal.db import transaction
from portal.deps import CaseWorker, RuntimeDep, base_url, rate_limited
from portal.errors import NotFound, responses
from portal.requests import poster, service
from portal.requests.models import EvidenceRequest, RequestKind, RequestState
from portal.requests.schemas import (
    IndividualCreate,
    PublicRequestOut,
    RecipientCheck,
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
        }
    )


def _message(url: str, req: EvidenceRequest) -> dict[str, str]:
    """The text the officer sends by hand (SMS, messenger, a card): the portal sends nothing."""
    return {
        "es": f"{req.title_es}\nSi quiere compartir su video, use este enlace (un solo uso): {url}",
        "en": f"{req.title_en}\nIf you wish to share your video, use this one-time link: {url}",
    }


@router.post("/requests", status_code=201, responses=responses(401, 403, 422))
def create_request(
    body: RequestCreate, request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> RequestOut:
    with transaction(rt.sessions) as db:
        req = service.create(
            db, user=user, body=body, recipient=None, recipient_key=b"", now=rt.clock()
        )
        return _out(request, rt, req)


@router.post("/requests/individual", status_code=201, responses=responses(401, 403, 422))
def create_individual(
    body: IndividualCreate, request: Request, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> RequestOut:
    """A one-time link for one person. Their name and phone are kept only as a commitment;
    the answer carries the text to send them."""
    fields = RequestCreate.model_validate(
        body.model_dump(exclude={"recipient_name", "recipient_phone"})
    )
    with transaction(rt.sessions) as db:
        req = service.create(
            db,
            user=user,
            body=fields,
            recipient=(body.recipient_name, body.recipient_phone),
            recipient_key=rt.recipient_key,
            now=rt.clock(),
        )
        out = _out(request, rt, req)
    out.message = _message(out.url, req)
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
    evidence_request_id: str, body: RecipientCheck, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> dict[str, bool]:
    """Was this one-time link made for this name and phone? (The database cannot say who.)"""
    with rt.sessions() as db:
        req = service.get(db, request_id=evidence_request_id)
        ok = service.recipient_matches(
            req, key=rt.recipient_key, name=body.recipient_name, phone=body.recipient_phone
        )
    return {"matches": ok}


_KINDS = {
    "qr.png": "image/png",
    "qr.svg": "image/svg+xml",
    "poster.pdf": "application/pdf",
}


@router.get(
    "/requests/{evidence_request_id}/{artifact}",
    responses={**responses(401, 403, 404), 200: {"content": {t: {} for t in _KINDS.values()}}},
    response_class=Response,
)
def artifact(
    evidence_request_id: str,
    artifact: str,
    request: Request,
    rt: RuntimeDep,
    user: StaffUser = CaseWorker,
) -> Response:
    """The QR code (`qr.png`, `qr.svg`) and the printable poster (`poster.pdf`)."""
    media = _KINDS.get(artifact)
    with rt.sessions() as db:
        req = service.get(db, request_id=evidence_request_id)
    # A one-time link gets no poster: it is for one person, not a wall.
    if media is None or (req.kind != RequestKind.PUBLIC and artifact == "poster.pdf"):
        raise NotFound("no such file")
    url = witness_url(request, rt, req.code)
    if artifact == "qr.png":
        data = poster.qr_png(url)
    elif artifact == "qr.svg":
        data = poster.qr_svg(url)
    else:
        data = poster.poster_pdf(req, url)
    return Response(data, media_type=media, headers={"Cache-Control": "no-store"})


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
