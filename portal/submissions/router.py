"""Witness-facing submission routes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from portal.auth.witness import bearer, new_token
from portal.db import transaction
from portal.deps import RuntimeDep, WitnessDep, base_url, rate_limited
from portal.errors import responses
from portal.flows import requests as request_flows
from portal.flows import withdrawal
from portal.retention import service as retention
from portal.submissions import consent as consent_docs
from portal.submissions import receipts, service
from portal.submissions.schemas import (
    ConsentOut,
    FileOut,
    RetentionOut,
    SubmissionCreate,
    SubmissionCreated,
    SubmissionOut,
    UploadOut,
)

router = APIRouter(prefix="/api/v1", tags=["witness"])
# How long a receipt waits for the signing round that covers a file just received.
RECEIPT_WAIT = 10.0


@router.get("/consent")
def get_consent() -> ConsentOut:
    doc = consent_docs.current()
    return ConsentOut.model_validate(
        {"version": doc.version, "sha256": doc.sha256, "text": doc.text, "scopes": doc.scopes}
    )


@router.post(
    "/submissions",
    status_code=201,
    dependencies=[rate_limited("submissions")],
    responses=responses(404, 410, 429),
)
async def create_submission(
    payload: SubmissionCreate, request: Request, rt: RuntimeDep
) -> SubmissionCreated:
    token = new_token()

    def create() -> str:
        with transaction(rt.sessions) as db:
            sub = request_flows.open_submission(
                rt, db, payload=payload, token=token, cipher=rt.contact_cipher, now=rt.clock()
            )
            return sub.id

    sub_id = await run_in_threadpool(create)
    return SubmissionCreated(
        id=sub_id, witness_token=token, upload_url=f"{base_url(request, rt)}/api/v1/uploads"
    )


def _status(rt: RuntimeDep, witness: WitnessDep, submission_id: str) -> SubmissionOut:
    with rt.sessions() as db:
        service.ensure_own(witness=witness, submission_id=submission_id)
        sub = witness
        consent = service.consent_of(db, submission_id=sub.id)
        files = service.files_of(db, submission_id=sub.id)
        uploads = service.uploads_of(db, submission_id=sub.id)
        kept = {f.id: retention.status_for_witness(db, item=f) for f in files}
    return SubmissionOut(
        id=sub.id,
        status=sub.status,
        withdrawn_at=consent.withdrawn_at,
        created_at=sub.created_at,
        consent_version=consent.version,
        scopes=consent.scopes,
        files=[
            FileOut(
                id=f.id,
                name=f.filename,
                size=f.size,
                sha256=f.sha256,
                media_type=f.media_type,
                received_at=f.received_at,
                retention=RetentionOut(
                    state=kept[f.id].state, until=kept[f.id].until, reason=kept[f.id].reason
                ),
            )
            for f in files
        ],
        uploads=[
            UploadOut(id=u.id, name=u.filename, offset=u.offset, length=u.length, status=u.status)
            for u in uploads
        ],
    )


@router.get("/submissions/{submission_id}", responses=responses(401, 404))
def get_submission(submission_id: str, rt: RuntimeDep, witness: WitnessDep) -> SubmissionOut:
    return _status(rt, witness, submission_id)


@router.post("/submissions/{submission_id}/withdrawal", responses=responses(401, 404, 409, 503))
def withdraw(submission_id: str, rt: RuntimeDep, witness: WitnessDep) -> SubmissionOut:
    """Withdraw consent. Files no hold or case needs are destroyed after the grace period."""
    service.ensure_own(witness=witness, submission_id=submission_id)
    sub = withdrawal.withdraw(
        rt.sessions, rt.retention, rt.upload_deps, submission_id=submission_id, now=rt.clock()
    )
    return _status(rt, sub, submission_id)


@router.get("/submissions/{submission_id}/receipt", responses=responses(401, 404))
def get_receipt(
    submission_id: str,
    request: Request,
    rt: RuntimeDep,
    witness: WitnessDep,
    download: bool = False,
) -> JSONResponse:
    """The receipt; `?download=1` sends it as a file to keep, with what the printed receipt
    shows beside the proofs (the receipt code, the status address, unfinished uploads)."""
    service.ensure_own(witness=witness, submission_id=submission_id)
    with rt.sessions() as db:
        checkpoint = receipts.covering_checkpoint(db, submission=witness)
    if checkpoint is None:
        # A file received moments ago: wait for the signing round that covers it, shared
        # with the crowd. None still (a crash between a file's commit and its checkpoint,
        # another instance's file): sign one now.
        rt.checkpoints.wait(rt.checkpoints.request(), timeout=RECEIPT_WAIT)
        with rt.sessions() as db:
            checkpoint = receipts.covering_checkpoint(db, submission=witness)
    if checkpoint is None:
        checkpoint = rt.sign_checkpoint()
    with rt.sessions() as db:
        body = receipts.build(
            db,
            submission=witness,
            checkpoint=checkpoint,
            origin=rt.settings.log_origin,
            public_key=rt.log_verifier,
            now=rt.clock(),
        )
        if download:
            body.update(
                receipts.for_the_witness(
                    db,
                    submission=witness,
                    token=bearer(request.headers.get("authorization")),  # as WitnessDep read it
                    public_url=rt.settings.public_url,
                )
            )
    headers = {"Cache-Control": "no-store"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="receipt-{submission_id}.json"'
    return JSONResponse(body, headers=headers)
