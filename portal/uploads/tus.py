"""tus 1.0.0 over HTTP: header parsing and status codes; the work is in service.py."""

from __future__ import annotations

import time
from datetime import datetime
from email.utils import format_datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Request, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from portal import metrics
from portal.clock import as_utc
from portal.deps import RuntimeDep, WitnessDep, base_url, client_host, rate_limited
from portal.errors import (
    BadRequest,
    PortalError,
    PreconditionFailed,
    TooLarge,
    UnsupportedMediaType,
    responses,
)
from portal.evidence.models import Evidence
from portal.flows import finalise, receipt
from portal.runtime import Runtime
from portal.submissions.models import Submission
from portal.uploads import patch as patch_
from portal.uploads import protocol, service
from portal.uploads.models import Upload, UploadState

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,creation-defer-length,expiration,termination,checksum"
OCTET = "application/offset+octet-stream"

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])
TUS_BODY = {"content": {OCTET: {"schema": {"type": "string", "format": "binary"}}}}


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, **extra}


def _check_version(tus_resumable: str | None) -> None:
    if tus_resumable != TUS_VERSION:
        raise PreconditionFailed(
            f"Tus-Resumable must be {TUS_VERSION}",
            code="tus_version",
            headers={"Tus-Version": TUS_VERSION},
        )


def _expires(at: datetime) -> str:
    return format_datetime(at, usegmt=True)


TusResumable = Annotated[str | None, Header()]
# Read, never documented: clients do not choose it, their HTTP library does.
ContentLength = Annotated[str | None, Header(include_in_schema=False)]


@router.options("", status_code=204)
def options(rt: RuntimeDep) -> Response:
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(rt.settings.max_upload_size),
            "Tus-Checksum-Algorithm": ",".join(protocol.CHECKSUM_ALGORITHMS),
        },
    )


@router.options("/{upload_id}", status_code=204)
def options_upload(upload_id: str, rt: RuntimeDep) -> Response:
    """The same discovery answer on an upload's URL, where tus clients may ask too."""
    return options(rt)


async def _stream_into(
    request: Request, writer: patch_.PatchWriter, *, inline: bool
) -> patch_.PatchResult:
    complete = False
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            # Local disk, between database calls: measured faster than a thread hop per chunk.
            # A network backend may block for a whole part upload, and the first bytes'
            # check or a lease renewal may wait on the database: those go to a thread.
            if inline and writer.quick:
                writer.write(chunk)
            else:
                await run_in_threadpool(writer.write, chunk)
        complete = True
    except ClientDisconnect:
        pass
    except BaseException:
        await run_in_threadpool(writer.abort)
        raise
    return await run_in_threadpool(writer.finish, complete=complete)


async def _finished(
    rt: Runtime, upload_id: str, result: patch_.PatchResult
) -> tuple[patch_.PatchResult, BackgroundTask | None]:
    """The last byte is in: finalise the upload into evidence before answering (the item is
    durable and logged when the witness hears of it); its media work runs after the answer."""
    if not result.completed:
        return result, None
    item = await run_in_threadpool(finalise.finalise, rt, upload_id=upload_id, derive=False)
    return result, _media_task(rt, item)


def _media_task(rt: Runtime, item: Evidence | None) -> BackgroundTask | None:
    # Not awaited by the answer; a stop before it runs leaves it to the next start.
    return None if item is None else BackgroundTask(_derive_media, rt, item.id)


async def _derive_media(rt: Runtime, evidence_id: str) -> None:
    # A few at a time on threads of their own: waiting here holds none of the threads that
    # the next finalise and PATCH need (a crowd's derivations had taken all of them).
    await anyio.to_thread.run_sync(
        receipt.derive_media, rt, evidence_id, limiter=rt.media_limiter()
    )


@router.post(
    "",
    status_code=201,
    dependencies=[rate_limited("uploads")],
    response_class=Response,
    openapi_extra={"requestBody": {**TUS_BODY, "required": False}},
    responses={
        201: {"description": "Created; the upload's URL is in Location"},
        **responses(400, 401, 409, 412, 413, 415, 429, 460, 503, 507),
    },
)
async def create(
    request: Request,
    rt: RuntimeDep,
    witness: WitnessDep,
    tus_resumable: TusResumable = None,
    upload_length: Annotated[str | None, Header()] = None,
    upload_defer_length: Annotated[str | None, Header()] = None,
    upload_metadata: Annotated[str | None, Header()] = None,
    content_type: Annotated[str | None, Header()] = None,
    content_length: ContentLength = None,
    upload_checksum: Annotated[str | None, Header()] = None,
) -> Response:
    _check_version(tus_resumable)
    witness.ensure_open()
    deps = rt.upload_deps
    if upload_defer_length is not None and upload_defer_length != "1":
        raise BadRequest("Upload-Defer-Length must be 1", code="bad_header")
    length = protocol.parse_length(upload_length, "Upload-Length")
    metadata = protocol.parse_metadata(upload_metadata, max_bytes=deps.limits.max_metadata_bytes)
    body_length = protocol.parse_length(content_length, "Content-Length") or 0
    with_body = body_length > 0
    if with_body and content_type != OCTET:
        raise UnsupportedMediaType(f"a body sent with creation must be {OCTET}")
    checksum = protocol.parse_checksum(upload_checksum) if with_body else None
    if with_body and length is not None and body_length > length:
        raise TooLarge("body runs past Upload-Length", code="past_length")
    upload = await run_in_threadpool(
        service.create,
        deps,
        submission_id=witness.id,
        length=length,
        defer_length=upload_defer_length == "1",
        metadata=metadata,
        client_key=rt.client_key(client_host(request)),
    )
    metrics.UPLOADS_STARTED.inc()
    location = f"{base_url(request, rt)}/api/v1/uploads/{upload.id}"
    headers = _tus_headers(
        Location=location, **{"Upload-Expires": _expires(as_utc(upload.expires_at))}
    )
    media_task = None
    if with_body:
        try:
            offset, media_task = await _first_chunk(
                request, rt, witness, upload.id, body_length, checksum
            )
        except PortalError as exc:
            # The upload exists even though its first chunk failed (a checksum mismatch, a
            # storage outage): say where, so the client resumes instead of starting over.
            if not isinstance(exc, UnsupportedMediaType):  # refused files are not kept
                exc.headers["Location"] = location
            raise
        headers["Upload-Offset"] = str(offset)
    return Response(status_code=201, headers=headers, background=media_task)


async def _first_chunk(
    request: Request,
    rt: Runtime,
    witness: Submission,
    upload_id: str,
    body_length: int,
    checksum: tuple[str, bytes] | None,
) -> tuple[int, BackgroundTask | None]:
    """Creation With Upload: the body sent with POST, written like a PATCH at offset 0."""
    writer = await run_in_threadpool(
        patch_.begin_patch,
        rt.upload_deps,
        submission=witness,
        upload_id=upload_id,
        offset=0,
        upload_length=None,
        content_length=body_length,
        checksum=checksum,
    )
    assert isinstance(writer, patch_.PatchWriter)
    stream = await _stream_into(request, writer, inline=rt.storage.inline_writes)
    result, media_task = await _finished(rt, upload_id, stream)
    return result.offset, media_task


@router.head(
    "/{upload_id}",
    response_class=Response,
    responses={
        200: {"description": "The upload's offset, in headers"},
        **responses(401, 404, 410, 412, 503),
    },
)
async def head(
    upload_id: str, rt: RuntimeDep, witness: WitnessDep, tus_resumable: TusResumable = None
) -> Response:
    _check_version(tus_resumable)

    def lookup() -> tuple[Upload, Evidence | None]:
        with rt.readers() as db:
            upload = service.get_own(db, submission=witness, upload_id=upload_id, now=rt.clock())
        if upload.status == UploadState.ACTIVE and upload.length == upload.offset:
            return upload, finalise.finalise(rt, upload_id=upload.id, derive=False)
        return upload, None

    upload, item = await run_in_threadpool(lookup)
    headers = _tus_headers(**{"Upload-Offset": str(upload.offset), "Cache-Control": "no-store"})
    if upload.length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(upload.length)
    if upload.status == UploadState.ACTIVE:
        headers["Upload-Expires"] = _expires(as_utc(upload.expires_at))
    return Response(status_code=200, headers=headers, background=_media_task(rt, item))


@router.patch(
    "/{upload_id}",
    status_code=204,
    openapi_extra={"requestBody": TUS_BODY},
    responses=responses(400, 401, 404, 409, 410, 412, 413, 415, 423, 460, 503, 507),
)
async def patch(
    upload_id: str,
    request: Request,
    rt: RuntimeDep,
    witness: WitnessDep,
    tus_resumable: TusResumable = None,
    content_type: Annotated[str | None, Header()] = None,
    upload_offset: Annotated[str | None, Header()] = None,
    upload_length: Annotated[str | None, Header()] = None,
    content_length: ContentLength = None,
    upload_checksum: Annotated[str | None, Header()] = None,
) -> Response:
    _check_version(tus_resumable)
    clock = time.perf_counter()
    if content_type != OCTET:
        raise UnsupportedMediaType(f"PATCH bodies must be sent as {OCTET}")
    offset = protocol.parse_length(upload_offset, "Upload-Offset")
    if offset is None:
        raise BadRequest("Upload-Offset is required", code="bad_header")
    started = await run_in_threadpool(
        patch_.begin_patch,
        rt.upload_deps,
        submission=witness,
        upload_id=upload_id,
        offset=offset,
        upload_length=protocol.parse_length(upload_length, "Upload-Length"),
        content_length=protocol.parse_length(content_length, "Content-Length"),
        checksum=protocol.parse_checksum(upload_checksum),
    )
    result, media_task = await _finished(
        rt,
        upload_id,
        started
        if isinstance(started, patch_.PatchResult)
        else await _stream_into(request, started, inline=rt.storage.inline_writes),
    )
    metrics.BYTES_RECEIVED.inc(result.offset - offset)
    metrics.PATCH_SECONDS.observe(time.perf_counter() - clock)
    return Response(
        status_code=204,
        headers=_tus_headers(
            **{"Upload-Offset": str(result.offset), "Upload-Expires": _expires(result.expires_at)}
        ),
        background=media_task,
    )


@router.delete(
    "/{upload_id}", status_code=204, responses=responses(401, 404, 409, 410, 412, 423, 503)
)
async def delete(
    upload_id: str, rt: RuntimeDep, witness: WitnessDep, tus_resumable: TusResumable = None
) -> Response:
    _check_version(tus_resumable)
    await run_in_threadpool(
        service.terminate, rt.upload_deps, submission=witness, upload_id=upload_id
    )
    return Response(status_code=204, headers=_tus_headers())
