"""Investigator routes: thin wrappers over evidence/service.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from portal.auth.models import StaffUser
from portal.auth.permissions import Permission
from portal.cases import service as case_service
from portal.db import transaction
from portal.deps import RuntimeDep, require
from portal.errors import PortalError, responses
from portal.evidence import ranges, service
from portal.evidence.models import Evidence
from portal.evidence.schemas import (
    ContactOut,
    CustodyEventOut,
    EvidenceDetail,
    EvidencePage,
    EvidenceSummary,
    Triage,
)
from portal.flows import triage as flows_triage
from portal.retention.service import holds_of
from portal.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["evidence"], responses=responses(401, 403))

Reader = require(Permission.EVIDENCE_READ)
Player = require(Permission.EVIDENCE_CONTENT)
Triager = require(Permission.EVIDENCE_TRIAGE)
CaseWorker = require(Permission.CASES)
ContactViewer = require(Permission.WITNESS_CONTACT)
TimelineReader = require(Permission.EVIDENCE_READ, Permission.LOG)


BINARY = {"schema": {"type": "string", "format": "binary"}}
ORIGINAL = {kind: BINARY for kind in ("video/*", "image/*", "audio/*")}


class IntegrityError(PortalError):
    status, code = 500, "integrity_failure"


def _summary(item: Evidence, cases: list[str]) -> EvidenceSummary:
    info = item.media_info or {}
    return EvidenceSummary(
        id=item.id,
        submission_id=item.submission_id,
        filename=item.filename,
        size=item.size,
        sha256=item.sha256,
        media_type=item.media_type,
        received_at=item.received_at,
        status=item.status,
        cases=cases,
        duration_seconds=info.get("duration_seconds"),
    )


@router.get("/evidence")
def queue(
    rt: RuntimeDep,
    user: StaffUser = Reader,
    status: Literal["new", "accepted", "declined"] | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    case: str | None = None,
    media_type: Annotated[str | None, Query(max_length=100)] = None,
    sort: str = "-received_at",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EvidencePage:
    filters = service.QueueFilter(status, received_from, received_to, case, media_type)
    with transaction(rt.sessions) as db:
        items, total = service.queue(
            db,
            user=user,
            filters=filters,
            sort=sort,
            page=page,
            per_page=per_page,
            now=rt.clock(),
        )
        cases = service.case_ids(db, evidence_ids=[e.id for e in items])
    return EvidencePage(
        items=[_summary(e, cases[e.id]) for e in items], total=total, page=page, per_page=per_page
    )


@router.get("/evidence/{evidence_id}", responses=responses(404))
def detail(evidence_id: str, rt: RuntimeDep, user: StaffUser = Reader) -> EvidenceDetail:
    with transaction(rt.sessions) as db:
        item = service.view(db, user=user, evidence_id=evidence_id, now=rt.clock())
        cases = service.case_ids(db, evidence_ids=[item.id])[item.id]
        sub, consent = service.submission_context(db, item=item)
        holds = [
            {
                "id": h.id,
                "reason": h.reason,
                "case_reference": h.case_reference,
                "placed_at": h.placed_at,
                "released_at": h.released_at,
            }
            for h in holds_of(db, evidence_id=item.id)
        ]
    return EvidenceDetail(
        **_summary(item, cases).model_dump(),
        triage_reason=item.triage_reason,
        triaged_at=item.triaged_at,
        triaged_by=item.triaged_by,
        media_info=item.media_info,
        has_thumbnail=item.thumbnail_key is not None,
        log_index=item.log_index,
        consent_scopes=consent.scopes,
        incident={
            "occurred_at": sub.incident_occurred_at,
            "place": sub.incident_place,
            "description": sub.incident_description,
        },
        has_contact=sub.contact_encrypted is not None,
        retention_category=item.retention_category,
        retain_until=item.retain_until,
        disposition=item.disposition,
        holds=holds,
    )


@router.post("/evidence/{evidence_id}/triage", responses=responses(404, 410))
def triage(
    evidence_id: str, body: Triage, rt: RuntimeDep, user: StaffUser = Triager
) -> EvidenceSummary:
    with transaction(rt.sessions) as db:
        item = flows_triage.triage(
            db,
            rt.retention,
            user=user,
            evidence_id=evidence_id,
            decision=body.decision,
            reason=body.reason,
            now=rt.clock(),
        )
        return _summary(item, service.case_ids(db, evidence_ids=[item.id])[item.id])


@router.get(
    "/evidence/{evidence_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": BINARY}}, **responses(404, 410, 503)},
)
def thumbnail(evidence_id: str, rt: RuntimeDep, user: StaffUser = Reader) -> Response:
    with transaction(rt.sessions) as db:
        key = service.thumbnail(db, user=user, evidence_id=evidence_id, now=rt.clock())
    data = b"".join(rt.storage.read(key))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/evidence/{evidence_id}/custody", responses=responses(404))
def custody_timeline(
    evidence_id: str, rt: RuntimeDep, user: StaffUser = TimelineReader
) -> list[CustodyEventOut]:
    with transaction(rt.sessions) as db:
        events = service.timeline(db, user=user, evidence_id=evidence_id, now=rt.clock())
    return [
        CustodyEventOut(
            index=e["seq"],
            at=e["at"],
            type=e["type"],
            actor=e["actor"],
            subject=e["subject"],
            details=e["details"],
        )
        for e in events
    ]


@router.get("/evidence/{evidence_id}/contact", responses=responses(404))
def witness_contact(
    evidence_id: str, rt: RuntimeDep, user: StaffUser = ContactViewer
) -> ContactOut:
    with transaction(rt.sessions) as db:
        data = service.contact(
            db, user=user, evidence_id=evidence_id, cipher=rt.contact_cipher, now=rt.clock()
        )
    return ContactOut.model_validate(data)


def _verified(rt: Runtime, item: Evidence) -> Iterator[bytes]:
    """The whole original, hashed as it goes; the last block is held back until it matches."""
    digest = hashlib.sha256()
    held: bytes | None = None
    for block in rt.storage.read(item.storage_key, 0, item.size):
        digest.update(block)
        if held is not None:
            yield held
        held = block
    if digest.hexdigest() != item.sha256:
        with transaction(rt.sessions) as db:
            service.record_integrity_failure(
                db, item=item, actual_sha256=digest.hexdigest(), now=rt.clock()
            )
        # Breaking the stream leaves the client with a short, unusable file, never a bad one.
        raise IntegrityError(f"stored bytes of {item.id} no longer match their SHA-256")
    if held is not None:
        yield held


@router.get(
    "/evidence/{evidence_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The whole original", "content": ORIGINAL},
        206: {"description": "The requested range", "content": ORIGINAL},
        **responses(404, 410, 416, 503),
    },
)
def content(
    evidence_id: str,
    rt: RuntimeDep,
    user: StaffUser = Player,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    download: bool = False,
    playback: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The original: HTTP Range for playback, or `?download=1` for the whole file."""
    with transaction(rt.sessions) as db:
        item = service.get_live(db, evidence_id=evidence_id)
        headers: dict[str, Any] = {
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, no-store",
            "ETag": f'"{item.sha256}"',
            "X-Content-SHA256": item.sha256,
        }
        if download:
            service.record_download(db, user=user, item=item, now=rt.clock())
            headers["Content-Disposition"] = (
                f"attachment; filename=\"{item.sha256}\"; filename*=UTF-8''{quote(item.filename)}"
            )
            headers["Content-Length"] = str(item.size)
            body: Iterator[bytes] = _verified(rt, item)
            status = 200
        else:
            span = ranges.parse(range_header, item.size)
            start, end = span or (0, item.size)
            pid = service.record_stream(
                db,
                user=user,
                item=item,
                span=(start, end),
                playback_id=playback,
                idle=rt.settings.playback_idle,
                now=rt.clock(),
            )
            headers["X-Playback"] = pid
            headers["Content-Length"] = str(end - start)
            status = 200 if span is None else 206
            if span is not None:
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{item.size}"
            body = rt.storage.read(item.storage_key, start, end)
    return StreamingResponse(body, status_code=status, media_type=item.media_type, headers=headers)


# --- cases -----------------------------------------------------------------------------------


@router.get("/cases/{case_id}/evidence", responses=responses(404))
def case_evidence(
    case_id: str, rt: RuntimeDep, user: StaffUser = CaseWorker
) -> list[EvidenceSummary]:
    with transaction(rt.sessions) as db:
        case = case_service.get(db, case_id=case_id)
        items = service.case_evidence(db, user=user, case=case, now=rt.clock())
        cases = service.case_ids(db, evidence_ids=[e.id for e in items])
    return [_summary(e, cases[e.id]) for e in items]
