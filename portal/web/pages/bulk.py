"""Bulk work from the queue: triage or link several ticked items at once.

Each item goes through the same flow as its own page (so each gets its own custody event and
retention recompute), all in one transaction: one refusal (a withdrawn item without a reason,
an item already linked) leaves every item as it was."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form
from fastapi.responses import Response

from portal.auth.permissions import Permission, ensure_any
from portal.db import transaction
from portal.deps import RuntimeDep
from portal.errors import Invalid
from portal.evidence.schemas import Triage
from portal.flows import cases as case_flows
from portal.flows import triage as triage_flow
from portal.web.access import Triager
from portal.web.forms import validated
from portal.web.rendering import see_other
from portal.web.routing import router

MAX_ITEMS = 200  # one queue page is 50; a bound keeps one request's transaction small


@router.post("/staff/queue/bulk")
def bulk(
    rt: RuntimeDep,
    user: Triager,
    action: Annotated[str, Form(max_length=16)],
    ids: Annotated[list[str], Form(max_length=MAX_ITEMS)],
    reason: Annotated[str, Form(max_length=4000)] = "",
    case_id: Annotated[str, Form(max_length=64)] = "",
    withdrawn_reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    chosen = list(dict.fromkeys(i for i in ids if i))
    if not chosen:
        raise Invalid("tick at least one item", code="nothing_chosen")
    if action not in ("accept", "decline", "link"):
        raise Invalid("action must be accept, decline or link", code="bad_action")
    now = rt.clock()
    with transaction(rt.sessions) as db:
        if action == "link":
            ensure_any(user.role, (Permission.CASES,))
            if not case_id:
                raise Invalid("choose a case", code="no_case")
            for evidence_id in chosen:
                case_flows.link(
                    db,
                    rt.retention,
                    user=user,
                    case_id=case_id,
                    evidence_id=evidence_id,
                    now=now,
                    withdrawn_reason=withdrawn_reason,
                )
        else:
            body = validated(Triage, decision=action, reason=reason.strip())
            for evidence_id in chosen:
                triage_flow.triage(
                    db,
                    rt.retention,
                    user=user,
                    evidence_id=evidence_id,
                    decision=body.decision,
                    reason=body.reason,
                    now=now,
                    withdrawn_reason=withdrawn_reason,
                )
    return see_other("/web/staff/queue?" + urlencode({"done": len(chosen)}))
