"""Staff pages for evidence: the queue, an item's page (metadata, consent, holds, custody
timeline), its thumbnail and content, triage, case links and the witness's contact.

Each page calls the same service function as the API route, so it appends the same custody
event; thumbnail and content come from `portal.evidence.content`, as the API's do.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Form, Header, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from portal.auth import service as staff_auth
from portal.auth.models import StaffUser
from portal.auth.permissions import Permission, allowed
from portal.cases import service as case_service
from portal.cases.models import Case
from portal.db import transaction
from portal.deps import RuntimeDep
from portal.errors import Invalid, NotFound
from portal.evidence import content as serving
from portal.evidence import playbacks, witness_data
from portal.evidence import service as evidence
from portal.evidence.models import Disposition
from portal.evidence.schemas import Triage
from portal.flows import cases as case_flows
from portal.flows import triage as triage_flow
from portal.retention import service as retention
from portal.submissions import service as submissions
from portal.web import timeline as tl
from portal.web.access import CaseWorker, ContactViewer, Player, Reader, Triager
from portal.web.forms import blank, confirmed, day, validated
from portal.web.pages import redactions as redaction_pages
from portal.web.rendering import render, see_other, translator
from portal.web.routing import router

PER_PAGE = 50
# The queue's filters, kept in the pager's links.
FILTERS = ("q", "status", "media_type", "case", "request_id", "received_from", "received_to")


def evidence_done(evidence_id: str) -> RedirectResponse:
    """Back to the item's page after a form, which then says the change was made."""
    return see_other(f"/web/staff/evidence/{evidence_id}?done=1")


def _case_choices(db: Session, user: StaffUser) -> list[Case]:
    """The cases a user may link an item to (none without the cases permission)."""
    if not allowed(user.role, Permission.CASES):
        return []
    return [c for c, _ in case_service.list_cases(db)]


@router.get("/staff/queue")
def queue(
    request: Request,
    rt: RuntimeDep,
    user: Reader,
    status: Annotated[str | None, Query(max_length=16)] = None,
    media_type: Annotated[str | None, Query(max_length=100)] = None,
    case: Annotated[str | None, Query(max_length=64)] = None,
    request_id: Annotated[str | None, Query(max_length=32)] = None,
    received_from: Annotated[str | None, Query(max_length=20)] = None,
    received_to: Annotated[str | None, Query(max_length=20)] = None,
    sort: Annotated[str, Query(max_length=20)] = "-received_at",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    q: Annotated[str | None, Query(max_length=200)] = None,
    done: Annotated[int | None, Query(ge=0, le=1000)] = None,
) -> HTMLResponse:
    status = blank(status)
    if status not in (None, "new", "accepted", "declined"):
        raise Invalid("status must be new, accepted or declined", code="bad_status")
    zone = ZoneInfo(rt.settings.time_zone)
    filters = evidence.QueueFilter(
        status=status,
        received_from=day(received_from, zone=zone),
        received_to=day(received_to, end=True, zone=zone),
        case_id=blank(case),
        media_type=blank(media_type),
        text=blank(q),
        request_id=blank(request_id),
    )
    with transaction(rt.sessions) as db:
        items, total = evidence.queue(
            db, user=user, filters=filters, sort=sort, page=page, per_page=PER_PAGE, now=rt.clock()
        )
        cases = evidence.case_ids(db, evidence_ids=[e.id for e in items])
        all_cases = _case_choices(db, user)
        subs = submissions.latest_consents(db, submission_ids={e.submission_id for e in items})
    consents = {e.id: subs[e.submission_id] for e in items if e.submission_id in subs}
    params = {k: blank(v) or "" for k, v in request.query_params.items() if k in FILTERS}
    params["sort"] = sort

    def page_url(n: int) -> str:
        return "/web/staff/queue?" + urlencode({**params, "page": n})

    return render(
        request,
        "staff/queue.html",
        user=user,
        items=items,
        cases=cases,
        consents=consents,
        done=done,
        all_cases=all_cases,
        total=total,
        page=page,
        filters={k: params.get(k, "") for k in FILTERS} | {"sort": sort},
        sorts=list(evidence.SORTS),
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page * PER_PAGE < total else None,
    )


def _staff_ids(events: list[dict[str, Any]]) -> set[str]:
    return {e["actor"].split(":")[1] for e in events if e["actor"].startswith("staff:")}


@router.get("/staff/evidence/{evidence_id}")
def evidence_page(
    request: Request,
    evidence_id: str,
    rt: RuntimeDep,
    user: Reader,
    done: str | None = None,
) -> HTMLResponse:
    now = rt.clock()
    with transaction(rt.sessions) as db:
        # The same calls as GET /api/v1/evidence/{id} and .../custody: the same events.
        item = evidence.view(db, user=user, evidence_id=evidence_id, now=now)
        linked = evidence.case_ids(db, evidence_ids=[item.id])[item.id]
        sub, consent = evidence.submission_context(db, item=item)
        holds = retention.holds_of(db, evidence_id=item.id)
        events = evidence.timeline(db, user=user, evidence_id=item.id, now=now)
        names = staff_auth.names_of(db, user_ids=_staff_ids(events))
        titles = {c.id: c.title for c, _ in case_service.list_cases(db)}
        all_cases = _case_choices(db, user)
        has_contact = sub.contact_encrypted is not None
        proxy = playbacks.review_copy_of(db, item)
        redacting = redaction_pages.for_item(request, db, item=item, events=events)
        # Place, description and the file's place and device are sealed: a logged look.
        incident = {"occurred_at": sub.incident_occurred_at}
        has_witness_data = witness_data.has_witness_data(sub, item)
    return render(
        request,
        "staff/evidence.html",
        user=user,
        item=item,
        info=item.media_info or {},
        kind=item.media_type.split("/")[0],
        linked=[(c, titles.get(c, c)) for c in linked],
        all_cases=[c for c in all_cases if c.id not in linked],
        consent=consent,
        scope_words=", ".join(translator(request)("scope." + s) for s in consent.scopes),
        incident=incident,
        holds=holds,
        timeline=tl.rows_for_page(translator(request), events, names, titles),
        has_contact=has_contact and allowed(user.role, Permission.WITNESS_CONTACT),
        has_witness_data=has_witness_data,
        purged=item.disposition == Disposition.PURGED,
        done=bool(done),
        contact=None,
        review_copy=proxy is not None and not request.query_params.get("original"),
        **redacting,
    )


@router.get("/staff/evidence/{evidence_id}/thumbnail")
def thumbnail(evidence_id: str, rt: RuntimeDep, user: Reader) -> Response:
    return serving.thumbnail(
        rt.sessions, rt.storage, user=user, evidence_id=evidence_id, now=rt.clock()
    )


@router.get("/staff/evidence/{evidence_id}/proxy")
def review_copy(
    evidence_id: str,
    rt: RuntimeDep,
    user: Player,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    playback: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    return serving.review_copy(
        rt.sessions,
        rt.storage,
        user=user,
        evidence_id=evidence_id,
        range_header=range_header,
        playback=playback,
        playback_idle=rt.settings.playback_idle,
        now=rt.clock(),
    )


@router.get("/staff/evidence/{evidence_id}/content")
def content(
    evidence_id: str,
    rt: RuntimeDep,
    user: Player,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    download: bool = False,
    playback: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The API's content response behind the session cookie: same Range handling, playback
    grouping and checked download, so the same custody events."""
    return serving.original(
        rt.sessions,
        rt.storage,
        user=user,
        evidence_id=evidence_id,
        range_header=range_header,
        download=download,
        playback=playback,
        playback_idle=rt.settings.playback_idle,
        clock=rt.clock,
    )


@router.post("/staff/evidence/{evidence_id}/triage")
def triage(
    evidence_id: str,
    rt: RuntimeDep,
    user: Triager,
    decision: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=4000)],
    withdrawn_reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    body = validated(Triage, decision=decision, reason=reason.strip())
    with transaction(rt.sessions) as db:
        triage_flow.triage(
            db,
            rt.retention,
            user=user,
            evidence_id=evidence_id,
            decision=body.decision,
            reason=body.reason,
            now=rt.clock(),
            withdrawn_reason=withdrawn_reason,
        )
    return evidence_done(evidence_id)


@router.post("/staff/evidence/{evidence_id}/link")
def link(
    evidence_id: str,
    rt: RuntimeDep,
    user: CaseWorker,
    case_id: Annotated[str, Form(max_length=64)],
    withdrawn_reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    with transaction(rt.sessions) as db:
        case_flows.link(
            db,
            rt.retention,
            user=user,
            case_id=case_id,
            evidence_id=evidence_id,
            now=rt.clock(),
            withdrawn_reason=withdrawn_reason,
        )
    return evidence_done(evidence_id)


@router.post("/staff/evidence/{evidence_id}/unlink")
def unlink(
    evidence_id: str,
    rt: RuntimeDep,
    user: CaseWorker,
    case_id: Annotated[str, Form(max_length=64)],
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    confirmed(confirm)
    with transaction(rt.sessions) as db:
        case_flows.unlink(
            db, rt.retention, user=user, case_id=case_id, evidence_id=evidence_id, now=rt.clock()
        )
    return evidence_done(evidence_id)


@router.post("/staff/evidence/{evidence_id}/contact")
def witness_contact(
    request: Request, evidence_id: str, rt: RuntimeDep, user: ContactViewer
) -> HTMLResponse:
    """Decrypting a contact is a logged look (witness.contact_viewed), as in the API."""
    with transaction(rt.sessions) as db:
        item = evidence.get(db, evidence_id=evidence_id)
        try:
            data = evidence.contact(
                db, user=user, evidence_id=evidence_id, cipher=rt.contact_cipher, now=rt.clock()
            )
        except NotFound:
            data = {}
    return render(request, "staff/contact.html", user=user, item=item, contact=data)


@router.post("/staff/evidence/{evidence_id}/incident")
def witness_incident(
    request: Request, evidence_id: str, rt: RuntimeDep, user: Reader
) -> HTMLResponse:
    """Opening the incident text and device metadata is a logged look
    (witness.incident_viewed), as in the API."""
    with transaction(rt.sessions) as db:
        item = evidence.get(db, evidence_id=evidence_id)
        try:
            data = witness_data.view(
                db, user=user, evidence_id=evidence_id, cipher=rt.contact_cipher, now=rt.clock()
            )
        except NotFound:
            data = {"incident": {}, "device": {}}
    return render(request, "staff/incident.html", user=user, item=item, **data)
