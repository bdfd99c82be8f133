"""Staff pages for retention: legal holds on an item, the items due for destruction and their
approval."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from portal.cases import service as case_service
from portal.db import transaction
from portal.deps import RuntimeDep
from portal.evidence import service as evidence
from portal.retention import disposition
from portal.retention import service as retention
from portal.retention.schemas import HoldCreate, HoldRelease
from portal.web.access import Approver, Holder, RetentionViewer
from portal.web.forms import confirmed, validated
from portal.web.pages.evidence import evidence_done
from portal.web.rendering import render, see_other
from portal.web.routing import router


@router.post("/staff/evidence/{evidence_id}/holds")
def place_hold(
    evidence_id: str,
    rt: RuntimeDep,
    user: Holder,
    reason: Annotated[str, Form(max_length=4000)],
    case_reference: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    body = validated(
        HoldCreate, reason=reason.strip(), case_reference=case_reference.strip() or None
    )
    with transaction(rt.sessions) as db:
        retention.place_hold(
            db,
            rt.retention,
            user=user,
            evidence_id=evidence_id,
            reason=body.reason,
            case_reference=body.case_reference,
            now=rt.clock(),
        )
    return evidence_done(evidence_id)


@router.post("/staff/holds/{hold_id}/release")
def release_hold(
    hold_id: str,
    rt: RuntimeDep,
    user: Holder,
    reason: Annotated[str, Form(max_length=4000)],
) -> Response:
    body = validated(HoldRelease, reason=reason.strip())
    with transaction(rt.sessions) as db:
        hold = retention.release_hold(
            db, rt.retention, user=user, hold_id=hold_id, reason=body.reason, now=rt.clock()
        )
        evidence_id = hold.evidence_id
    return evidence_done(evidence_id)


@router.get("/staff/retention")
def retention_page(request: Request, rt: RuntimeDep, user: RetentionViewer) -> HTMLResponse:
    with transaction(rt.sessions) as db:
        due = disposition.list_due(db, user=user, now=rt.clock())
        linked = evidence.case_ids(db, evidence_ids=[d.item.id for d in due])
        titles = {c.id: c.title for c, _ in case_service.list_cases(db)}
    cases = {e: [titles.get(c, c) for c in ids] for e, ids in linked.items()}
    return render(request, "staff/retention.html", user=user, due=due, cases=cases)


@router.post("/staff/retention/{evidence_id}/approve")
def approve(
    evidence_id: str,
    rt: RuntimeDep,
    user: Approver,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    confirmed(confirm)
    with transaction(rt.sessions) as db:
        disposition.approve(db, user=user, evidence_id=evidence_id, now=rt.clock())
    return see_other("/web/staff/retention")
