"""Staff pages that make and end evidence requests: the form (a public request, or a one-time
link when a recipient is named), and closing or revoking one. The same service and schema as
POST /api/v1/requests; times typed into the form are in the portal's time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from portal.cases import service as case_service
from portal.cases.models import CaseState
from portal.db import transaction
from portal.deps import RuntimeDep, base_url
from portal.errors import Invalid
from portal.flows import notifications
from portal.requests import service as requests
from portal.requests.models import RequestKind, RequestState
from portal.requests.schemas import RequestCreate
from portal.web.access import CaseWorker
from portal.web.forms import blank, confirmed, validated
from portal.web.rendering import render, see_other
from portal.web.routing import router

Text = Annotated[str, Form(max_length=4000)]
Optional = Annotated[str, Form(max_length=4000)]


def _local(value: str | None, zone: ZoneInfo, field: str) -> datetime | None:
    """A `datetime-local` field (no offset): that wall-clock time in the portal's zone."""
    if not blank(value):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        # The message is the field's name: the page words the refusal (error.bad_datetime).
        raise Invalid(field, code="bad_datetime") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


@router.get("/staff/requests/new")
def new_request_page(request: Request, rt: RuntimeDep, user: CaseWorker) -> HTMLResponse:
    with rt.sessions() as db:
        cases = [c for c, _ in case_service.list_cases(db) if c.status == CaseState.OPEN]
    return render(
        request,
        "staff/request_new.html",
        user=user,
        cases=cases,
        zone_name=rt.settings.time_zone,
    )


@router.post("/staff/requests")
def create_request(
    request: Request,
    rt: RuntimeDep,
    user: CaseWorker,
    case_id: Annotated[str, Form(max_length=32)],
    title_es: Text,
    title_en: Text,
    description_es: Text,
    description_en: Text,
    place: Text,
    expires_at: Annotated[str, Form(max_length=40)],
    window_start: Annotated[str, Form(max_length=40)] = "",
    window_end: Annotated[str, Form(max_length=40)] = "",
    media_kinds: Annotated[list[str] | None, Form()] = None,
    ask_contact: Annotated[str, Form(max_length=8)] = "",
    recipient_name: Annotated[str, Form(max_length=200)] = "",
    recipient_phone: Annotated[str, Form(max_length=50)] = "",
    notify_url: Annotated[str, Form(max_length=2000)] = "",
    notify_email: Annotated[str, Form(max_length=320)] = "",
) -> HTMLResponse:
    zone = ZoneInfo(rt.settings.time_zone)
    recipient = None
    if blank(recipient_name) or blank(recipient_phone):
        recipient = {"name": recipient_name.strip(), "phone": recipient_phone.strip()}
    body = validated(
        RequestCreate,
        case_id=case_id,
        title_es=title_es.strip(),
        title_en=title_en.strip(),
        description_es=description_es.strip(),
        description_en=description_en.strip(),
        place=place.strip(),
        window_start=_local(window_start, zone, "window_start"),
        window_end=_local(window_end, zone, "window_end"),
        expires_at=_local(expires_at, zone, "expires_at"),
        media_kinds=media_kinds or ["video"],
        ask_contact=ask_contact == "yes",
        recipient=recipient,
        notify_url=blank(notify_url),
        notify_email=blank(notify_email),
    )
    with transaction(rt.sessions) as db:
        req = requests.create(
            db,
            user=user,
            body=body,
            recipient_key=rt.recipient_key,
            now=rt.clock(),
            notify=notifications.rules(rt),
        )
        url = f"{base_url(request, rt)}/r/{req.code}"
        # A one-time link is shown once, here: the portal keeps no copy of it to show again.
        message = requests.message(url, req) if req.kind == RequestKind.INDIVIDUAL else None
        return render(
            request, "staff/request_made.html", user=user, req=req, url=url, message=message
        )


@router.post("/staff/requests/{evidence_request_id}/end")
def end_request(
    rt: RuntimeDep,
    user: CaseWorker,
    evidence_request_id: str,
    how: Annotated[str, Form(max_length=16)],
    confirm: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    confirmed(confirm)
    states = {"close": RequestState.CLOSED, "revoke": RequestState.REVOKED}
    if how not in states:
        raise Invalid("how must be close or revoke", code="bad_action")
    with transaction(rt.sessions) as db:
        requests.end(
            db, user=user, request_id=evidence_request_id, state=states[how], now=rt.clock()
        )
    return see_other("/web/staff/requests")
