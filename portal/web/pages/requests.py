"""Evidence requests on the web: the witness's request page (`/web/r/<code>`, which leads to
the usual consent form with the request bound to it) and the staff's list with its numbers,
QR codes and posters."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from portal.cases import service as case_service
from portal.deps import RuntimeDep, base_url, client_host
from portal.errors import NotFound
from portal.requests import poster
from portal.requests import service as requests
from portal.requests.models import RequestKind
from portal.web.access import CaseWorker
from portal.web.pages.witness import consent_context
from portal.web.rendering import language, render
from portal.web.routing import router

ARTIFACTS = {"qr.png": "image/png", "qr.svg": "image/svg+xml", "poster.pdf": "application/pdf"}


@router.get("/r/{code}")
def request_page(request: Request, rt: RuntimeDep, code: str) -> HTMLResponse:
    """What the request published, what answering means, then consent. Unknown codes get 404
    and ended ones 410, each with a page in the witness's language that names no case."""
    rt.count_request("request_lookups", client_host(request))
    with rt.sessions() as db:
        req = requests.by_code(db, code=code[:40])
        requests.ensure_answerable(req, now=rt.clock())
        shown = requests.published(req)
    return render(
        request,
        "witness/consent.html",
        errors=[],
        values={},
        chosen=[],
        answering=shown,
        **consent_context(language(request)),
    )


@router.get("/staff/requests")
def requests_page(request: Request, rt: RuntimeDep, user: CaseWorker) -> HTMLResponse:
    with rt.sessions() as db:
        reqs = requests.list_requests(db)
        stats = requests.stats(db, request_ids=[r.id for r in reqs])
        case_titles = {c.id: c.title for c, _ in case_service.list_cases(db)}
    rows = [(r, stats[r.id]) for r in reqs]
    return render(request, "staff/requests.html", user=user, rows=rows, case_titles=case_titles)


@router.get("/staff/requests/{evidence_request_id}/{artifact}")
def request_artifact(
    request: Request, rt: RuntimeDep, user: CaseWorker, evidence_request_id: str, artifact: str
) -> Response:
    media = ARTIFACTS.get(artifact)
    with rt.sessions() as db:
        req = requests.get(db, request_id=evidence_request_id)
    if media is None or req.kind != RequestKind.PUBLIC:
        raise NotFound("no such file")
    url = f"{base_url(request, rt)}/r/{req.code}"
    maker = {"qr.png": poster.qr_png, "qr.svg": poster.qr_svg}.get(artifact)
    data = maker(url) if maker else poster.poster_pdf(req, url)
    return Response(data, media_type=media, headers={"Cache-Control": "no-store"})
