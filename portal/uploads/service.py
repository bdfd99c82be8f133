"""Resumable uploads: creating, finding, ending and expiring them, as plain functions, no HTTP.

Hand-written because no maintained Python tus server streams to S3 with a durable, resumable
SHA-256. The rules that matter:
- bytes are written to storage as they arrive and hashed on the way (no spooling);
- the offset, the serialised hash state and the backend state are committed together, and
  only after storage has made the bytes durable, so a returned offset is never a lie;
- one writer per upload, through a lease row in the database, so any instance may serve
  the next PATCH.
PATCH lives in uploads/patch.py, the upload's side of finalise in uploads/completion.py; the
tus headers are parsed in uploads/protocol.py.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import rehashes
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from portal import metrics
from portal.clock import as_utc
from portal.custody import commitment
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.db import rowcount, transaction
from portal.errors import (
    BadRequest,
    Conflict,
    Gone,
    InsufficientStorage,
    Invalid,
    Locked,
    NotFound,
    RateLimited,
    TooLarge,
)
from portal.ids import new_id
from portal.storage import Storage
from portal.submissions.models import Submission
from portal.uploads.models import Upload, UploadState

MAX_FILENAME_BYTES = 255
# Direction overrides make "gpj.exe" read as "exe.jpg" on a reviewer's screen.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# The rest of what a reviewer cannot see: marks (U+200E/U+200F/U+061C), zero-width characters,
# soft hyphens and other format characters, and line/paragraph separators (U+2028/U+2029).
INVISIBLE = frozenset({"Cf", "Zl", "Zp"})


@dataclass(frozen=True)
class Limits:
    max_size: int
    expiry: timedelta
    lease: timedelta
    max_metadata_bytes: int
    min_free_space: int = 0
    """Free bytes storage keeps; 0 for none."""
    max_unfinished_per_client: int = 0
    """Declared bytes of unfinished uploads one client may hold; 0 for no cap."""


@dataclass(frozen=True)
class Deps:
    """What the upload service needs from the running portal."""

    sessions: sessionmaker[Session]
    storage: Storage
    limits: Limits
    clock: Callable[[], datetime]
    free_bytes: Callable[[], int | None] = lambda: None
    """Free bytes where storage writes, or None when it cannot tell (S3)."""


def check_filename(name: str | None) -> str:
    if name is None or name == "":
        return "upload"
    bad = (
        "/" in name
        or "\\" in name
        or name in (".", "..")
        or ".." in name
        or any(unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS for c in name)
        or len(name.encode()) > MAX_FILENAME_BYTES
    )
    if bad:
        raise BadRequest(
            "file name must be a plain name: no '/', '\\', '..', control characters or NUL, "
            f"at most {MAX_FILENAME_BYTES} bytes",
            code="bad_filename",
        )
    if any(unicodedata.category(c) in INVISIBLE for c in name):
        raise Invalid(
            "file name must not hold invisible or direction-changing characters "
            "(Unicode format characters, line or paragraph separators)",
            code="bad_filename",
        )
    return name


# --- lookups ---------------------------------------------------------------------------


def get_own(db: Session, *, submission: Submission, upload_id: str, now: datetime) -> Upload:
    """The upload if it belongs to this submission, else 404 (never reveal others exist)."""
    submission.ensure_open()
    upload = db.get(Upload, upload_id)
    if upload is None or upload.submission_id != submission.id:
        raise NotFound("no such upload")
    expired = upload.status != UploadState.COMPLETED and as_utc(upload.expires_at) < now
    if expired:  # whether or not the sweep has ended it yet
        raise Gone("this upload has expired; start a new one")
    if upload.status == UploadState.TERMINATED:
        raise NotFound("no such upload")
    return upload


# --- creation and termination -------------------------------------------------------------


def create(
    deps: Deps,
    *,
    submission_id: str,
    length: int | None,
    defer_length: bool,
    metadata: dict[str, str | None],
    client_key: str | None = None,
) -> Upload:
    if length is None and not defer_length:
        raise BadRequest("Upload-Length or Upload-Defer-Length: 1 is required", code="no_length")
    if length is not None:
        check_length(deps, length)
    filename = check_filename(metadata.get("filename") or metadata.get("name"))
    check_free_space(deps, length or 0)
    claimed = metadata.get("filetype") or metadata.get("type")
    now = deps.clock()
    upload_id = new_id()
    salt = commitment.new_salt()
    with transaction(deps.sessions) as db:
        _check_client_quota(db, deps, client_key, length or 0)
        upload = Upload(
            client_key=client_key,
            id=upload_id,
            submission_id=submission_id,
            created_at=now,
            expires_at=now + deps.limits.expiry,
            length=length,
            offset=0,
            hash_state=rehashes.PySha256().serialize(),
            backend_state=None,
            filename=filename,
            name_salt=salt,
            filetype=(claimed or "")[:255] or None,
            status=UploadState.ACTIVE,
        )
        db.add(upload)
        custody.append(
            db,
            type=EventType.UPLOAD_CREATED,
            actor=Actor.witness(submission_id),
            subject=submission_id,
            details={
                "upload": upload_id,
                "name_commitment": commitment.commit(filename, salt),
                "length": length,
            },
            at=now,
        )
    # Storage only once the row is committed: a crash before this line leaves a row nobody
    # was told about (offset 0, nothing stored), never a partial that no row names.
    deps.storage.create_partial(upload_id)
    return upload


def check_free_space(deps: Deps, coming: int) -> None:
    """Refuse with 507 while storage could still take the bytes, rather than fill the disk
    (which would stop the database and the log too)."""
    floor = deps.limits.min_free_space
    free = deps.free_bytes() if floor else None
    if free is not None and free - coming < floor:
        raise InsufficientStorage(
            "storage is nearly full; the portal keeps free space in reserve. Try again later",
            code="storage_nearly_full",
        )


def _check_client_quota(db: Session, deps: Deps, client_key: str | None, length: int) -> None:
    cap = deps.limits.max_unfinished_per_client
    if not cap or client_key is None:
        return
    held = db.scalar(
        select(func.coalesce(func.sum(func.coalesce(Upload.length, Upload.offset)), 0)).where(
            Upload.client_key == client_key, Upload.status == UploadState.ACTIVE
        )
    )
    if int(held or 0) + length > cap:
        raise RateLimited(
            f"this network already holds {held} bytes of unfinished uploads (at most {cap}); "
            "finish or cancel some first",
            retry_after=60,
            code="unfinished_quota",
        )


def check_length(deps: Deps, length: int) -> None:
    if length > deps.limits.max_size:
        raise TooLarge(
            f"Upload-Length {length} is over the maximum of {deps.limits.max_size} bytes",
            code="upload_too_large",
        )
    if length == 0:
        raise BadRequest("an empty file is not evidence", code="empty_upload")


def take_lease(db: Session, deps: Deps, upload: Upload, *, owner: str) -> None:
    """The one-writer lease of an upload (PATCH, termination); 423 while another holds it."""
    now = deps.clock()
    taken = db.execute(
        update(Upload)
        .where(
            Upload.id == upload.id,
            or_(Upload.lock_owner.is_(None), Upload.lock_expires < now),
        )
        .values(lock_owner=owner, lock_expires=now + deps.limits.lease)
        .execution_options(synchronize_session=False)
    )
    if rowcount(taken) != 1:
        raise Locked(
            "another request is writing this upload; retry shortly",
            code="upload_locked",
            retry_after=1,
        )


def terminate(deps: Deps, *, submission: Submission, upload_id: str) -> None:
    with transaction(deps.sessions) as db:
        upload = get_own(db, submission=submission, upload_id=upload_id, now=deps.clock())
        if upload.status != UploadState.ACTIVE:
            raise Conflict("a completed upload cannot be terminated", code="upload_completed")
        take_lease(db, deps, upload, owner=new_id())
        terminate_row(db, deps, upload, reason="terminated by the witness")
    deps.storage.delete_partial(upload.id, upload.backend_state)


def terminate_all(deps: Deps, *, submission_id: str, reason: str) -> int:
    """End every unfinished upload of a submission (consent withdrawn)."""
    with transaction(deps.sessions) as db:
        active = list(
            db.scalars(
                select(Upload).where(
                    Upload.submission_id == submission_id, Upload.status == UploadState.ACTIVE
                )
            )
        )
        for upload in active:
            terminate_row(db, deps, upload, reason=reason)
    for upload in active:
        deps.storage.delete_partial(upload.id, upload.backend_state)
    return len(active)


def terminate_row(db: Session, deps: Deps, upload: Upload, *, reason: str) -> None:
    metrics.UPLOADS_FAILED.labels(reason).inc()
    upload.status = UploadState.TERMINATED
    upload.client_key = None
    upload.lock_owner = None
    custody.append(
        db,
        type=EventType.UPLOAD_TERMINATED,
        actor=Actor.witness(upload.submission_id),
        subject=upload.submission_id,
        details={"upload": upload.id, "offset": upload.offset, "reason": reason},
        at=deps.clock(),
    )


def expire_stale(deps: Deps) -> int:
    """End unfinished uploads past their expiry and free their partials (tus expiration).

    Without this an abandoned upload's bytes would stay in storage for good, claimed by a row
    nobody will ever resume. An upload someone is writing right now (a live lease) is left
    for the next sweep; a crash between the commit and the delete leaves a partial of a
    terminated upload, which `portal storage reconcile --repair` removes.
    """
    now = deps.clock()
    with transaction(deps.sessions) as db:
        stale = list(
            db.scalars(
                select(Upload).where(
                    Upload.status == UploadState.ACTIVE,
                    Upload.expires_at < now,
                    or_(Upload.lock_owner.is_(None), Upload.lock_expires < now),
                    or_(Upload.length.is_(None), Upload.offset < Upload.length),
                )
            )
        )
        for upload in stale:
            terminate_row(db, deps, upload, reason="expired")
    for upload in stale:
        deps.storage.delete_partial(upload.id, upload.backend_state)
    return len(stale)
