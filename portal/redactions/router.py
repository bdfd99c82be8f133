"""Redaction routes: define on an item, approve (another person), preview, fetch the copy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from portal.auth.models import StaffUser
from portal.changes.schemas import ChangeRequestOut
from portal.db import transaction
from portal.deps import Player, RuntimeDep
from portal.errors import responses
from portal.evidence.service import get_live
from portal.flows import jobs as job_flows
from portal.flows import redaction as flows
from portal.redactions import service as redactions
from portal.redactions.schemas import RedactionIn, RedactionOut

router = APIRouter(prefix="/api/v1", tags=["redactions"], responses=responses(401, 403))
BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.post(
    "/evidence/{evidence_id}/redactions", status_code=201, responses=responses(404, 409, 410)
)
def define(
    evidence_id: str, body: RedactionIn, rt: RuntimeDep, user: StaffUser = Player
) -> RedactionOut:
    """Define what to hide in a copy of the item's video; a second person approves it."""
    with transaction(rt.sessions) as db:
        made = flows.define(db, user=user, evidence_id=evidence_id, body=body, rt=rt)
        return RedactionOut.of(made)


@router.get("/evidence/{evidence_id}/redactions", responses=responses(404, 410))
def of_item(evidence_id: str, rt: RuntimeDep, user: StaffUser = Player) -> list[RedactionOut]:
    with transaction(rt.sessions) as db:
        get_live(db, evidence_id=evidence_id)
        shown = redactions.for_evidence(db, evidence_id=evidence_id)
        redactions.log_listing(
            db, evidence_id=evidence_id, shown=shown, actor=str(user.actor), now=rt.clock()
        )
        return [RedactionOut.of(r) for r in shown]


@router.get("/redactions/{redaction_id}", responses=responses(404))
def one(redaction_id: str, rt: RuntimeDep, user: StaffUser = Player) -> RedactionOut:
    with transaction(rt.sessions) as db:
        found = redactions.get(db, redaction_id=redaction_id)
        redactions.log_access(
            db, redaction=found, actor=str(user.actor), what="record", now=rt.clock()
        )
        return RedactionOut.of(found)


@router.post("/redactions/{redaction_id}/approve", responses=responses(404, 409, 410))
def approve(redaction_id: str, rt: RuntimeDep, user: StaffUser = Player) -> RedactionOut:
    """Approve another's redaction; the copy is rendered by a job (here or by a worker)."""
    with transaction(rt.sessions) as db:
        row = flows.approve(
            db, user=user, redaction_id=redaction_id, policy=job_flows.policy(rt), rt=rt
        )
        evidence_id = row.evidence_id
    job_flows.start_jobs(rt, evidence_id)
    with transaction(rt.sessions) as db:
        found = redactions.get(db, redaction_id=redaction_id)
        redactions.log_access(
            db, redaction=found, actor=str(user.actor), what="record", now=rt.clock()
        )
        return RedactionOut.of(found)


@router.get(
    "/redactions/{redaction_id}/preview",
    response_class=Response,
    responses={200: {"content": {"image/png": BINARY}}, **responses(404, 409, 410)},
)
def preview(
    redaction_id: str,
    rt: RuntimeDep,
    at: Annotated[float, Query(ge=0, allow_inf_nan=False)] = 0.0,
    user: StaffUser = Player,
) -> Response:
    """The still at `at` seconds, redacted, with every box outlined in red."""
    png = flows.preview(
        rt, user=user, redaction_id=redaction_id, at=at, limits=job_flows.media_limits(rt)
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.get(
    "/redactions/{redaction_id}/content",
    response_class=Response,
    responses={200: {"content": {"video/mp4": BINARY}}, **responses(404, 410)},
)
def content(redaction_id: str, rt: RuntimeDep, user: StaffUser = Player) -> Response:
    """The redacted copy (never the original); its headers name the original it was made from."""
    with transaction(rt.sessions) as db:
        copy = flows.copy(db, user=user, redaction_id=redaction_id, rt=rt)
        key, source, digest = copy.key, copy.source_sha256, copy.sha256
    data = b"".join(rt.storage.read(key))
    headers = {
        "Cache-Control": "private, no-store",
        "X-Original-SHA256": source,
        "X-Redacted-Copy-SHA256": digest,
    }
    return Response(data, media_type="video/mp4", headers=headers)


@router.post(
    "/redactions/{redaction_id}/release", status_code=202, responses=responses(404, 409, 410)
)
def request_release(
    redaction_id: str, rt: RuntimeDep, user: StaffUser = Player
) -> ChangeRequestOut:
    """Ask to release the redacted copy to the public (public_appeal consent only); a second
    person, a supervisor, confirms it at /changes/{id}/confirm and the release is logged."""
    with transaction(rt.sessions) as db:
        req = flows.request_release(db, user=user, redaction_id=redaction_id, now=rt.clock())
        return ChangeRequestOut.of(req)
