"""Resumable uploads: the tus 1.0 state machine as plain functions, no HTTP.

Hand-written because no maintained Python tus server streams to S3 with a durable, resumable
SHA-256. The rules that matter:
- bytes are written to storage as they arrive and hashed on the way (no spooling);
- the offset, the serialised hash state and the backend state are committed together, and
  only after storage has made the bytes durable, so a returned offset is never a lie;
- one writer per upload, through a lease row in the database, so any instance may serve
  the next PATCH.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import filetype
import rehashes
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.db import rowcount, transaction
from portal.errors import (
    BadRequest,
    ChecksumMismatch,
    Conflict,
    Gone,
    InsufficientStorage,
    Locked,
    NotFound,
    PortalError,
    StorageUnavailable,
    TooLarge,
    UnsupportedMediaType,
)
from portal.evidence.models import Evidence
from portal.ids import new_id
from portal.storage import ObjectMissing, PartialWriter, Storage
from portal.submissions.models import Submission
from portal.submissions.service import ensure_open
from portal.uploads.models import Upload

log = logging.getLogger("portal.uploads")

CHECKSUM_ALGORITHMS: dict[str, Callable[[], Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}
ALLOWED_MEDIA = ("video/", "image/", "audio/")
SNIFF_BYTES = 8192
MAX_FILENAME_BYTES = 255
# Direction overrides make "gpj.exe" read as "exe.jpg" on a reviewer's screen.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Limits:
    max_size: int
    expiry: timedelta
    lease: timedelta
    max_metadata_bytes: int


@dataclass(frozen=True)
class Deps:
    """What the upload service needs from the running portal."""

    sessions: sessionmaker[Session]
    storage: Storage
    limits: Limits
    clock: Callable[[], datetime]
    on_completed: Callable[[str], object] = lambda evidence_id: None


# --- parsing of client-supplied values -------------------------------------------------


def parse_metadata(header: str | None, *, max_bytes: int) -> dict[str, str | None]:
    """tus Upload-Metadata: `key base64value` pairs separated by commas."""
    if not header:
        return {}
    if len(header.encode()) > max_bytes:
        raise BadRequest(f"Upload-Metadata is longer than {max_bytes} bytes", code="bad_metadata")
    out: dict[str, str | None] = {}
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not key or len(parts) > 2 or not key.isascii() or key in out:
            raise BadRequest(f"malformed Upload-Metadata pair {pair!r}", code="bad_metadata")
        if len(parts) == 1:
            out[key] = None
            continue
        try:
            out[key] = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest(
                f"Upload-Metadata value for {key!r} is not base64 UTF-8", code="bad_metadata"
            ) from None
    return out


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
    return name


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    if header is None:
        return None
    algo, _, value = header.strip().partition(" ")
    if algo not in CHECKSUM_ALGORITHMS:
        raise BadRequest(
            f"checksum algorithm {algo!r} is not supported (use sha1 or sha256)",
            code="checksum_algorithm",
        )
    try:
        digest = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise BadRequest("Upload-Checksum value is not base64", code="bad_checksum") from None
    return algo, digest


def parse_length(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    # ASCII digits only (str.isdigit also takes "²"), and no more than fit in 63 bits.
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise BadRequest(f"{name} must be a non-negative integer", code="bad_header")
    return int(value)


# --- lookups ---------------------------------------------------------------------------


def get_own(db: Session, *, submission: Submission, upload_id: str, now: datetime) -> Upload:
    """The upload if it belongs to this submission, else 404 (never reveal others exist)."""
    ensure_open(submission)
    upload = db.get(Upload, upload_id)
    if upload is None or upload.submission_id != submission.id:
        raise NotFound("no such upload")
    expired = upload.status != "completed" and as_utc(upload.expires_at) < now
    if expired:  # whether or not the sweep has ended it yet
        raise Gone("this upload has expired; start a new one")
    if upload.status == "terminated":
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
) -> Upload:
    if length is None and not defer_length:
        raise BadRequest("Upload-Length or Upload-Defer-Length: 1 is required", code="no_length")
    if length is not None:
        _check_length(deps, length)
    filename = check_filename(metadata.get("filename") or metadata.get("name"))
    claimed = metadata.get("filetype") or metadata.get("type")
    now = deps.clock()
    upload_id = new_id()
    with transaction(deps.sessions) as db:
        upload = Upload(
            id=upload_id,
            submission_id=submission_id,
            created_at=now,
            expires_at=now + deps.limits.expiry,
            length=length,
            offset=0,
            hash_state=rehashes.PySha256().serialize(),
            backend_state=None,
            filename=filename,
            filetype=(claimed or "")[:255] or None,
            status="active",
        )
        db.add(upload)
        custody.append(
            db,
            type=EventType.UPLOAD_CREATED,
            actor=Actor.witness(submission_id),
            subject=submission_id,
            details={"upload": upload_id, "filename": filename, "length": length},
            at=now,
        )
    # Storage only once the row is committed: a crash before this line leaves a row nobody
    # was told about (offset 0, nothing stored), never a partial that no row names.
    state = deps.storage.create_partial(upload_id)
    if state is not None:
        with transaction(deps.sessions) as db:
            db.execute(update(Upload).where(Upload.id == upload_id).values(backend_state=state))
        upload.backend_state = state
    return upload


def _check_length(deps: Deps, length: int) -> None:
    if length > deps.limits.max_size:
        raise TooLarge(
            f"Upload-Length {length} is over the maximum of {deps.limits.max_size} bytes",
            code="upload_too_large",
        )
    if length == 0:
        raise BadRequest("an empty file is not evidence", code="empty_upload")


def terminate(deps: Deps, *, submission: Submission, upload_id: str) -> None:
    with transaction(deps.sessions) as db:
        upload = get_own(db, submission=submission, upload_id=upload_id, now=deps.clock())
        if upload.status != "active":
            raise Conflict("a completed upload cannot be terminated", code="upload_completed")
        _take_lease(db, deps, upload, owner=new_id())
        _terminate_row(db, deps, upload, reason="terminated by the witness")
    deps.storage.delete_partial(upload.id, upload.backend_state)


def terminate_all(deps: Deps, *, submission_id: str, reason: str) -> int:
    """End every unfinished upload of a submission (consent withdrawn)."""
    with transaction(deps.sessions) as db:
        active = list(
            db.scalars(
                select(Upload).where(
                    Upload.submission_id == submission_id, Upload.status == "active"
                )
            )
        )
        for upload in active:
            _terminate_row(db, deps, upload, reason=reason)
    for upload in active:
        deps.storage.delete_partial(upload.id, upload.backend_state)
    return len(active)


def _terminate_row(db: Session, deps: Deps, upload: Upload, *, reason: str) -> None:
    upload.status = "terminated"
    upload.lock_owner = None
    custody.append(
        db,
        type=EventType.UPLOAD_TERMINATED,
        actor=Actor.witness(upload.submission_id),
        subject=upload.submission_id,
        details={"upload": upload.id, "offset": upload.offset, "reason": reason},
        at=deps.clock(),
    )


# --- the lease that makes one PATCH at a time, across instances ---------------------------


def _take_lease(db: Session, deps: Deps, upload: Upload, *, owner: str) -> None:
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
            headers={"Retry-After": "1"},
        )


def _release_lease(deps: Deps, upload_id: str, owner: str) -> None:
    with transaction(deps.sessions) as db:
        db.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.lock_owner == owner)
            .values(lock_owner=None, lock_expires=None)
        )


def _let_go(deps: Deps, upload_id: str, owner: str) -> None:
    """Release the lease on a failure path, where the failure is the thing to report.

    When the database refuses even this, the lease runs out on its own.
    """
    try:
        with _recorded():
            _release_lease(deps, upload_id, owner)
    except PortalError as exc:
        log.warning("could not release the lease on upload %s: %s", upload_id, exc.message)


@contextmanager
def _recorded() -> Iterator[None]:
    """Database failures while recording a PATCH, answered like storage failures.

    The offset in the database only moves after the bytes are durable, so whatever the
    database failed to record, HEAD still tells the client where to resume from.
    """
    try:
        yield
    except (OperationalError, PoolTimeout) as exc:
        log.warning("database error while recording an upload", exc_info=exc)
        cause = getattr(exc, "orig", None)
        if (
            getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(cause, "sqlstate", None) == "53100"  # PostgreSQL disk_full
        ):
            raise InsufficientStorage(
                "the database is full; the upload keeps its last recorded offset"
            ) from exc
        raise StorageUnavailable(
            "the database is unavailable; the upload keeps its last recorded offset",
            code="database_unavailable",
        ) from exc


# --- PATCH ---------------------------------------------------------------------------------


@dataclass
class PatchResult:
    offset: int
    expires_at: datetime
    completed: bool


def begin_patch(
    deps: Deps,
    *,
    submission: Submission,
    upload_id: str,
    offset: int,
    upload_length: int | None,
    content_length: int | None,
    checksum: tuple[str, bytes] | None,
) -> PatchWriter | PatchResult:
    """Check the request against the upload and take its lease.

    Returns a writer to stream the body into, or a result when there is nothing to write
    (a retried PATCH of an upload that is already complete).
    """
    owner = new_id()
    with transaction(deps.sessions) as db:
        upload = get_own(db, submission=submission, upload_id=upload_id, now=deps.clock())
        if offset != upload.offset:
            raise Conflict(
                f"Upload-Offset {offset} does not match the upload's offset {upload.offset}",
                code="offset_mismatch",
            )
        length = upload.length
        if upload_length is not None:
            if length is None:
                _check_length(deps, upload_length)
                if upload_length < upload.offset:
                    raise BadRequest("Upload-Length is below the current offset")
                # Kept in the snapshot and committed with the offset: a refused PATCH must
                # leave a deferred length deferred.
                length = upload_length
            elif upload_length != length:
                raise BadRequest("Upload-Length cannot change once set", code="length_changed")
        if length is not None and content_length is not None and offset + content_length > length:
            raise TooLarge(
                f"body of {content_length} bytes at offset {offset} runs past Upload-Length "
                f"{length}",
                code="past_length",
            )
        pending_finalise = length is not None and upload.offset == length
        if pending_finalise:
            if content_length:
                raise TooLarge("the upload is already complete", code="past_length")
            upload.length = length
        else:
            _take_lease(db, deps, upload, owner=owner)
        snapshot = replace(_Snapshot.of(upload), length=length)
    if pending_finalise:
        finalise(deps, upload_id=snapshot.id)
        return PatchResult(snapshot.offset, snapshot.expires_at, True)
    try:
        hasher = _restore_hasher(deps, snapshot)
        writer = deps.storage.open_partial(snapshot.id, snapshot.offset, snapshot.backend_state)
    except BaseException:
        _let_go(deps, snapshot.id, owner)
        raise
    return PatchWriter(deps, snapshot, owner, writer, hasher, checksum)


@dataclass(frozen=True)
class _Snapshot:
    id: str
    submission_id: str
    offset: int
    length: int | None
    hash_state: bytes | None
    backend_state: str | None
    expires_at: datetime

    @classmethod
    def of(cls, u: Upload) -> _Snapshot:
        return cls(
            u.id,
            u.submission_id,
            u.offset,
            u.length,
            u.hash_state,
            u.backend_state,
            as_utc(u.expires_at),
        )


def _restore_hasher(deps: Deps, snap: _Snapshot) -> Any:
    if snap.hash_state is not None:
        return rehashes.PySha256.deserialize(snap.hash_state)
    # State lost (written by an older version or repaired by hand): rebuild from the bytes.
    hasher = rehashes.PySha256()
    for block in deps.storage.read_partial(snap.id, snap.backend_state, snap.offset):
        hasher.update(block)
    return hasher


class PatchWriter:
    """Streams one PATCH body into storage; `finish` makes it durable and moves the offset."""

    def __init__(
        self,
        deps: Deps,
        snap: _Snapshot,
        owner: str,
        writer: PartialWriter,
        hasher: Any,
        checksum: tuple[str, bytes] | None,
    ) -> None:
        self._deps = deps
        self._snap = snap
        self._owner = owner
        self._writer = writer
        self._hasher = hasher
        self._checksum = checksum
        self._chunk_hash = CHECKSUM_ALGORITHMS[checksum[0]]() if checksum else None
        self._room = (snap.length - snap.offset) if snap.length is not None else None
        self._received = 0
        self._renew_every = deps.limits.lease.total_seconds() / 3
        self._renewed = time.monotonic()
        self._closed = False
        self._lost = False

    @property
    def received(self) -> int:
        return self._received

    def write(self, data: bytes) -> None:
        if self._room is not None and self._received + len(data) > self._room:
            raise TooLarge("the body runs past Upload-Length", code="past_length")
        room = self._deps.limits.max_size - self._snap.offset
        if self._received + len(data) > room:
            raise TooLarge("the upload is over the maximum size", code="upload_too_large")
        self._received += len(data)
        self._hasher.update(data)
        if self._chunk_hash is not None:
            self._chunk_hash.update(data)
        # Straight through: the server already hands over chunks of hundreds of KiB, and
        # gathering them into a buffer cost two extra copies per byte (measured ~30%).
        self._hold_lease()
        self._writer.write(data)

    def _hold_lease(self) -> None:
        """Renew before touching storage once a third of the lease has passed.

        A client that stalls longer than the lease loses the upload to its own reconnected
        PATCH; the stalled request must then never write or truncate again.
        """
        if time.monotonic() - self._renewed <= self._renew_every:
            return
        now = self._deps.clock()
        try:
            with _recorded(), transaction(self._deps.sessions) as db:
                kept = db.execute(
                    update(Upload)
                    .where(Upload.id == self._snap.id, Upload.lock_owner == self._owner)
                    .values(lock_expires=now + self._deps.limits.lease)
                )
        except PortalError:
            # Whether the lease still holds is unknown: as if lost, never truncate again.
            self._lost = True
            raise
        if rowcount(kept) != 1:
            self._lost = True
            raise Locked("lost the lease on this upload", code="upload_locked")
        self._renewed = time.monotonic()

    def abort(self) -> None:
        """Forget this PATCH entirely: the offset stays where it was."""
        if self._closed:
            return
        self._closed = True
        if self._lost:
            self._writer.close()
            return
        try:
            self._writer.abort()
        finally:
            _let_go(self._deps, self._snap.id, self._owner)

    def finish(self, *, complete: bool) -> PatchResult:
        """Commit the bytes received.

        `complete` is False when the client went away mid-body: without a checksum the
        bytes that did arrive are kept (tus resumes from them); with one they cannot be
        verified and are dropped.
        """
        snap = self._snap
        if self._checksum is not None:
            if not complete:
                self.abort()
                return PatchResult(snap.offset, snap.expires_at, False)
            assert self._chunk_hash is not None
            if self._chunk_hash.digest() != self._checksum[1]:
                self.abort()
                raise ChecksumMismatch(
                    f"{self._checksum[0]} of the body does not match Upload-Checksum; "
                    "the chunk was discarded",
                )
        try:
            self._hold_lease()
            backend_state = self._writer.commit()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        new_offset = snap.offset + self._received
        try:
            with _recorded(), transaction(self._deps.sessions) as db:
                moved = db.execute(
                    update(Upload)
                    .where(Upload.id == snap.id, Upload.lock_owner == self._owner)
                    .values(
                        offset=new_offset,
                        length=snap.length,
                        hash_state=self._hasher.serialize(),
                        backend_state=backend_state,
                        lock_owner=None,
                        lock_expires=None,
                    )
                )
        except PortalError:
            # Durable in storage but not recorded: the offset stays where it was, and the
            # next open_partial drops these bytes (a backend state nothing refers to is
            # harmless by the storage protocol).
            _let_go(self._deps, snap.id, self._owner)
            raise
        if rowcount(moved) != 1:
            raise Locked("lost the lease on this upload", code="upload_locked")
        done = snap.length is not None and new_offset == snap.length
        if done:
            finalise(self._deps, upload_id=snap.id)
        return PatchResult(new_offset, snap.expires_at, done)


# --- finalise ------------------------------------------------------------------------------


def finalise(deps: Deps, *, upload_id: str) -> Evidence | None:
    """Turn a complete upload into evidence. Idempotent: safe to retry after a crash.

    The offset == length commit happened before this runs, so a crash anywhere here leaves
    an upload that the next HEAD, PATCH or startup finalises again.
    """
    with deps.sessions() as db:
        upload = db.get(Upload, upload_id)
        if upload is None or upload.status != "active":
            return None
        if upload.length is None or upload.offset != upload.length:
            return None
        snap = _Snapshot.of(upload)
        filename = upload.filename
    hasher = _restore_hasher(deps, snap)
    sha256 = str(hasher.finalize())
    key = f"sha256/{sha256}"
    storage = deps.storage
    head = _sniff_head(storage, snap, key)
    kind = filetype.guess(head)
    media_type = kind.mime if kind is not None else None
    if media_type is None or not media_type.startswith(ALLOWED_MEDIA):
        with transaction(deps.sessions) as db:
            upload = db.get(Upload, upload_id, with_for_update=True)
            if upload is not None and upload.status == "active":
                _terminate_row(
                    db, deps, upload, reason=f"not a video, image or audio file ({media_type})"
                )
        storage.delete_partial(snap.id, snap.backend_state)
        raise UnsupportedMediaType(
            "the file is not a video, image or audio file; it was not kept",
            code="media_type_refused",
        )
    storage.finish_partial(snap.id, snap.backend_state, key)
    now = deps.clock()
    with transaction(deps.sessions) as db:
        # Two finalisers of one upload (a HEAD and a retried PATCH, two instances) meet here:
        # the row lock makes the second wait and then see the first one's "completed".
        upload = db.get(Upload, upload_id, with_for_update=True, populate_existing=True)
        if upload is None or upload.status != "active":
            return None
        actor = Actor.witness(upload.submission_id)
        completed = custody.append(
            db,
            type=EventType.UPLOAD_COMPLETED,
            actor=actor,
            subject=upload.submission_id,
            details={
                "upload": upload.id,
                "filename": filename,
                "size": snap.length,
                "sha256": sha256,
                "media_type": media_type,
            },
            at=now,
        )
        evidence = Evidence(
            id=new_id(),
            submission_id=upload.submission_id,
            upload_id=upload.id,
            filename=filename,
            size=snap.length or 0,
            sha256=sha256,
            media_type=media_type,
            received_at=now,
            storage_key=key,
            log_index=completed.seq,
        )
        db.add(evidence)
        upload.status = "completed"
        upload.evidence_id = evidence.id
        upload.lock_owner = None
        custody.append(
            db,
            type=EventType.EVIDENCE_RECEIVED,
            actor=actor,
            subject=evidence.id,
            details={
                "submission": upload.submission_id,
                "sha256": sha256,
                "size": snap.length,
                "media_type": media_type,
                "storage_key": key,
            },
            at=now,
        )
    deps.on_completed(evidence.id)
    return evidence


def _sniff_head(storage: Storage, snap: _Snapshot, key: str) -> bytes:
    """The first bytes of a complete upload, wherever they are now."""
    if not storage.exists(key):
        try:
            return storage.read_partial_head(snap.id, snap.backend_state, SNIFF_BYTES)
        except ObjectMissing:
            if not storage.exists(key):
                raise
            # Another finaliser of this upload moved the partial to its key meanwhile.
    return b"".join(storage.read(key, 0, min(SNIFF_BYTES, snap.length or 0)))


def finalise_pending(deps: Deps) -> int:
    """Finish uploads whose last byte was committed but whose finalise never ran."""
    with deps.sessions() as db:
        ids = list(
            db.scalars(
                Upload.__table__.select()
                .with_only_columns(Upload.id)
                .where(
                    Upload.status == "active",
                    Upload.length.is_not(None),
                    Upload.offset == Upload.length,
                )
            )
        )
    done = 0
    for upload_id in ids:
        try:
            if finalise(deps, upload_id=upload_id) is not None:
                done += 1
        except UnsupportedMediaType:
            pass
    return done


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
                    Upload.status == "active",
                    Upload.expires_at < now,
                    or_(Upload.lock_owner.is_(None), Upload.lock_expires < now),
                    or_(Upload.length.is_(None), Upload.offset < Upload.length),
                )
            )
        )
        for upload in stale:
            _terminate_row(db, deps, upload, reason="expired")
    for upload in stale:
        deps.storage.delete_partial(upload.id, upload.backend_state)
    return len(stale)
