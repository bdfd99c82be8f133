"""Investigator routes: thin wrappers over evidence/service.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from portal.auth.models import StaffUser
from portal.cases import service as case_service
from portal.db import transaction
from portal.deps import (
    CaseWorker,
    ContactViewer,
    Player,
    Reader,
    RuntimeDep,
    TimelineReader,
    Triager,
)
from portal.errors import responses
from portal.evidence import content as serving
from portal.evidence import copies, playbacks, service, witness_data
from portal.evidence.models import Evidence
from portal.evidence.schemas import (
    ContactOut,
    CustodyEventOut,
    EvidenceDetail,
    EvidencePage,
    EvidenceSummary,
    Triage,
    WitnessDataOut,
)
from portal.flows import triage as flows_triage
from portal.retention.service import holds_of

router = APIRouter(prefix="/api/v1", tags=["evidence"], responses=responses(401, 403))


BINARY = {"schema": {"type": "string", "format": "binary"}}
ORIGINAL = {kind: BINARY for kind in ("video/*", "image/*", "audio/*")}


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
    request_id: Annotated[str | None, Query(max_length=32)] = None,
    sort: str = "-received_at",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EvidencePage:
    filters = service.QueueFilter(
        status=status,
        received_from=received_from,
        received_to=received_to,
        case_id=case,
        media_type=media_type,
        request_id=request_id,
    )
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
        copy = playbacks.review_copy_of(db, item)
        jobs = copies.jobs_of(db, evidence_id=item.id)
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
        review_copy_sha256=copy.sha256 if copy else None,
        jobs=jobs,
        log_index=item.log_index,
        consent_scopes=consent.scopes,
        incident={"occurred_at": sub.incident_occurred_at},
        has_contact=sub.contact_encrypted is not None,
        has_witness_data=witness_data.has_witness_data(sub, item),
        retention_category=item.retention_category,
        retain_until=item.retain_until,
        disposition=item.disposition,
        holds=holds,
    )


@router.post("/evidence/{evidence_id}/triage", responses=responses(404, 409, 410))
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
            withdrawn_reason=body.withdrawn_reason,
        )
        return _summary(item, service.case_ids(db, evidence_ids=[item.id])[item.id])


@router.get(
    "/evidence/{evidence_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": BINARY}}, **responses(404, 410, 503)},
)
def thumbnail(evidence_id: str, rt: RuntimeDep, user: StaffUser = Reader) -> Response:
    return serving.thumbnail(
        rt.sessions, rt.storage, user=user, evidence_id=evidence_id, now=rt.clock()
    )


@router.get(
    "/evidence/{evidence_id}/proxy",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The whole review copy", "content": {"video/mp4": BINARY}},
        206: {"description": "The requested range", "content": {"video/mp4": BINARY}},
        **responses(404, 410, 416, 503),
    },
)
def review_copy(
    evidence_id: str,
    rt: RuntimeDep,
    user: StaffUser = Player,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    playback: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The playback proxy (H.264/AAC MP4) of a video browsers may not play, with HTTP Range
    and playbacks as the original's content has; the original stays at .../content."""
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


@router.get("/evidence/{evidence_id}/incident", responses=responses(404))
def witness_incident(evidence_id: str, rt: RuntimeDep, user: StaffUser = Reader) -> WitnessDataOut:
    """The sealed incident text and device metadata, opened: each look is logged
    (witness.incident_viewed)."""
    with transaction(rt.sessions) as db:
        data = witness_data.view(
            db, user=user, evidence_id=evidence_id, cipher=rt.contact_cipher, now=rt.clock()
        )
    return WitnessDataOut.model_validate(data)


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
