"""The upload's side of finalise: fix the hash, check the media type, move the bytes home.

flows/finalise.py runs these around the evidence row. Idempotent: the offset == length commit
happened before any of this runs, so a crash anywhere leaves an upload that the next HEAD,
PATCH or startup finalises again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from portal.custody import commitment
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.custody.models import LogEntry
from portal.db import transaction
from portal.errors import UnsupportedMediaType
from portal.storage import ObjectMissing, Storage
from portal.storage.layout import original_key
from portal.uploads.models import Upload, UploadState
from portal.uploads.patch import Snapshot, restore_hasher
from portal.uploads.service import Deps, terminate_row
from portal.uploads.sniff import SNIFF_BYTES, media_type_of


@dataclass(frozen=True)
class Complete:
    """A complete upload whose bytes are at their content-addressed key."""

    upload_id: str
    submission_id: str
    filename: str
    size: int
    sha256: str
    media_type: str
    storage_key: str


def move_home(deps: Deps, *, upload_id: str) -> Complete | None:
    """Fix the SHA-256, refuse what is not media, move the bytes to `sha256/<hex>`.

    None when the upload is not (or no longer) waiting to be finalised.
    """
    with deps.sessions() as db:
        upload = db.get(Upload, upload_id)
        if upload is None or upload.status != UploadState.ACTIVE:
            return None
        if upload.length is None or upload.offset != upload.length:
            return None
        snap = Snapshot.of(upload)
        filename = upload.filename
    hasher = restore_hasher(deps, snap)
    sha256 = str(hasher.finalize())
    key = original_key(sha256)
    storage = deps.storage
    head = _sniff_head(storage, snap, key)
    media_type = media_type_of(head)
    if media_type is None:
        with transaction(deps.sessions) as db:
            upload = db.get(Upload, upload_id, with_for_update=True)
            if upload is not None and upload.status == UploadState.ACTIVE:
                terminate_row(
                    db, deps, upload, reason=f"not a video, image or audio file ({media_type})"
                )
        storage.delete_partial(snap.id, snap.backend_state)
        raise UnsupportedMediaType(
            "the file is not a video, image or audio file; it was not kept",
            code="media_type_refused",
        )
    storage.finish_partial(snap.id, snap.backend_state, key)
    return Complete(
        upload_id=snap.id,
        submission_id=snap.submission_id,
        filename=filename,
        size=snap.length or 0,
        sha256=sha256,
        media_type=media_type,
        storage_key=key,
    )


def mark_completed(db: Session, *, done: Complete, now: datetime) -> tuple[Upload, LogEntry] | None:
    """Mark the upload completed and log `upload.completed`; None if another finaliser did.

    Two finalisers of one upload (a HEAD and a retried PATCH, two instances) meet here: the
    row lock makes the second wait and then see the first one's "completed".
    """
    upload = db.get(Upload, done.upload_id, with_for_update=True, populate_existing=True)
    if upload is None or upload.status != UploadState.ACTIVE:
        return None
    salt = upload.name_salt
    if salt is None and upload.filename:  # created before names were committed
        salt = upload.name_salt = commitment.new_salt()
    # A name erased by a withdrawal meanwhile is committed under a salt nobody keeps.
    name_commitment = commitment.commit(upload.filename, salt or commitment.new_salt())
    completed = custody.append(
        db,
        type=EventType.UPLOAD_COMPLETED,
        actor=Actor.witness(upload.submission_id),
        subject=upload.submission_id,
        details={
            "upload": upload.id,
            "name_commitment": name_commitment,
            "size": done.size,
            "sha256": done.sha256,
            "media_type": done.media_type,
        },
        at=now,
    )
    upload.status = UploadState.COMPLETED
    upload.client_key = None
    upload.lock_owner = None
    return upload, completed


def _sniff_head(storage: Storage, snap: Snapshot, key: str) -> bytes:
    """The first bytes of a complete upload, wherever they are now."""
    if not storage.exists(key):
        try:
            return storage.read_partial_head(snap.id, snap.backend_state, SNIFF_BYTES)
        except ObjectMissing:
            if not storage.exists(key):
                raise
            # Another finaliser of this upload moved the partial to its key meanwhile.
    return b"".join(storage.read(key, 0, min(SNIFF_BYTES, snap.length or 0)))


def waiting(deps: Deps) -> list[str]:
    """Uploads whose last byte was committed but whose finalise never ran."""
    with deps.sessions() as db:
        return list(
            db.scalars(
                Upload.__table__.select()
                .with_only_columns(Upload.id)
                .where(
                    Upload.status == UploadState.ACTIVE,
                    Upload.length.is_not(None),
                    Upload.offset == Upload.length,
                )
            )
        )
