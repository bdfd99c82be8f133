"""PATCH: one body streamed into storage under the upload's lease, then made durable.

The lease row makes one writer per upload across instances; the offset moves only once
storage has made the bytes durable, committed together with the hash state.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import rehashes
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from portal.clock import as_utc
from portal.db import rowcount, transaction
from portal.errors import (
    BadRequest,
    ChecksumMismatch,
    Conflict,
    InsufficientStorage,
    Locked,
    PortalError,
    StorageUnavailable,
    TooLarge,
    UnsupportedMediaType,
)
from portal.ids import new_id
from portal.storage import PartialWriter
from portal.submissions.models import Submission
from portal.uploads.models import Upload, UploadState
from portal.uploads.protocol import CHECKSUM_ALGORITHMS
from portal.uploads.service import (
    Deps,
    check_free_space,
    check_length,
    get_own,
    take_lease,
    terminate_row,
)
from portal.uploads.sniff import EARLY_BYTES, media_type_of

log = logging.getLogger("portal.uploads")


# --- the lease that makes one PATCH at a time, across instances ---------------------------


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
    """Every byte is in: the caller finalises the upload into evidence (flows/finalise.py)."""


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
                check_length(deps, upload_length)
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
            check_free_space(deps, content_length or 0)
            take_lease(db, deps, upload, owner=owner)
        snapshot = replace(Snapshot.of(upload), length=length)
    if pending_finalise:  # the caller finalises it (flows/finalise.py)
        return PatchResult(snapshot.offset, snapshot.expires_at, True)
    try:
        hasher = restore_hasher(deps, snapshot)
        writer = deps.storage.open_partial(snapshot.id, snapshot.offset, snapshot.backend_state)
    except BaseException:
        _let_go(deps, snapshot.id, owner)
        raise
    return PatchWriter(deps, snapshot, owner, writer, hasher, checksum)


@dataclass(frozen=True)
class Snapshot:
    id: str
    submission_id: str
    offset: int
    length: int | None
    hash_state: bytes | None
    backend_state: str | None
    expires_at: datetime

    @classmethod
    def of(cls, u: Upload) -> Snapshot:
        return cls(
            u.id,
            u.submission_id,
            u.offset,
            u.length,
            u.hash_state,
            u.backend_state,
            as_utc(u.expires_at),
        )


def restore_hasher(deps: Deps, snap: Snapshot) -> Any:
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
        snap: Snapshot,
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
        # The first bytes of the file, until they say whether it is media at all.
        self._head: bytes | None = b"" if snap.offset == 0 else None

    def write(self, data: bytes) -> None:
        if self._room is not None and self._received + len(data) > self._room:
            raise TooLarge("the body runs past Upload-Length", code="past_length")
        room = self._deps.limits.max_size - self._snap.offset
        if self._received + len(data) > room:
            raise TooLarge("the upload is over the maximum size", code="upload_too_large")
        if self._head is not None:
            self._sniff(data)
        self._received += len(data)
        self._hasher.update(data)
        if self._chunk_hash is not None:
            self._chunk_hash.update(data)
        # Straight through: the server already hands over chunks of hundreds of KiB, and
        # gathering them into a buffer cost two extra copies per byte (measured ~30%).
        self._hold_lease()
        self._writer.write(data)

    @property
    def quick(self) -> bool:
        """The next write touches neither the database nor the network: the first bytes are
        checked and the lease needs no renewal, so it may run on the event loop (a renewal is
        a commit, which under a crowd waits for SQLite's one writer)."""
        return self._head is None and not self._lease_due()

    def _lease_due(self) -> bool:
        return time.monotonic() - self._renewed > self._renew_every

    def _sniff(self, data: bytes) -> None:
        """Refuse what is not media at its first bytes, not after the whole file arrived.

        Too few bytes to tell (a tiny first PATCH) leaves the check to finalise.
        """
        assert self._head is not None
        self._head += data[: EARLY_BYTES - len(self._head)]
        if len(self._head) < EARLY_BYTES:
            return
        head, self._head = self._head, None
        if media_type_of(head) is not None:
            return
        self.abort()
        with transaction(self._deps.sessions) as db:
            upload = db.get(Upload, self._snap.id, with_for_update=True)
            if upload is not None and upload.status == UploadState.ACTIVE:
                terminate_row(
                    db, self._deps, upload, reason="not a video, image or audio file (first bytes)"
                )
        self._deps.storage.delete_partial(self._snap.id, self._snap.backend_state)
        raise UnsupportedMediaType(
            "the file is not a video, image or audio file; it was not kept",
            code="media_type_refused",
        )

    def _hold_lease(self) -> None:
        """Renew before touching storage once a third of the lease has passed.

        A client that stalls longer than the lease loses the upload to its own reconnected
        PATCH; the stalled request must then never write or truncate again.
        """
        if not self._lease_due():
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
        return PatchResult(new_offset, snap.expires_at, done)
