"""Derivation after receipt: metadata from the bytes and a poster thumbnail.

`derive` is the one entry point (the receipt flow calls it after answering the witness, the
sweep and the start for what is left; a job queue can call it the same way). The parsing runs
in a limited child process (portal.media.isolation); this process only reads the answer. The
original is only read; the poster is a separate write-once object under
`derived/<source sha256>/`, recorded with its source hash.

Each run is claimed first (an attempt counted, its start time set), so two instances do not
parse one file at once and a file whose run never finishes (the server stopped mid-run) is
marked unreadable after `max_attempts` instead of being tried at every start.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import IO, Any

from sqlalchemy import false, or_, true, update
from sqlalchemy.orm import Session, sessionmaker

from portal.custody import service as custody
from portal.custody.events import EventType
from portal.db import transaction
from portal.evidence.models import Derivative, Evidence
from portal.keys import ContactCipher
from portal.media.isolation import Limits, Outcome, run
from portal.sealed import seal, split_media
from portal.storage import Storage
from portal.storage.layout import derived_key
from portal.storage.local import LocalStorage


def derive(
    *,
    sessions: sessionmaker[Session],
    storage: Storage,
    evidence_id: str,
    limits: Limits,
    max_attempts: int,
    cipher: ContactCipher,
    now: datetime,
    reclaim: bool = False,
) -> bool:
    """Parse one item in a child process and record what it said (one custody event).

    False when there was nothing to do: already derived, purged, or another run holds it
    (`reclaim` takes over a run left by a stopped server, as a start does)."""
    claimed = _claim(sessions, evidence_id, limits, now=now, reclaim=reclaim)
    if claimed is None:
        return False
    key, sha256, attempts = claimed
    if attempts > max_attempts:
        outcome, read = Outcome(unreadable=f"no run finished in {max_attempts} attempts"), 0
    else:
        try:
            with source(storage, key) as (fileobj, read):
                outcome = run(fileobj, limits)
        except BaseException:
            # Storage failed (run never raises for bad media): not the file's fault, so the
            # attempt does not count against it; the sweep tries again.
            _release(sessions, evidence_id)
            raise
    thumb_key = thumb = None
    if outcome.poster:
        thumb_key, thumb = _store_poster(storage, sha256, outcome.poster)
    _record(sessions, evidence_id, sha256, outcome, read, (thumb_key, thumb), cipher, now)
    return True


def _claim(
    sessions: sessionmaker[Session],
    evidence_id: str,
    limits: Limits,
    *,
    now: datetime,
    reclaim: bool,
) -> tuple[str, str, int] | None:
    # A run still inside its time (plus margin) belongs to whoever started it.
    stale = now - timedelta(seconds=2 * limits.timeout_seconds + 60)
    with transaction(sessions) as db:
        taken = db.execute(
            update(Evidence)
            .where(
                Evidence.id == evidence_id,
                Evidence.media_info.is_(None),
                Evidence.disposition.is_(None),
                or_(
                    Evidence.media_started_at.is_(None),
                    Evidence.media_started_at < stale,
                    true() if reclaim else false(),
                ),
            )
            .values(media_attempts=Evidence.media_attempts + 1, media_started_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        item = db.get(Evidence, evidence_id)
        assert item is not None
        return item.storage_key, item.sha256, item.media_attempts


def _release(sessions: sessionmaker[Session], evidence_id: str) -> None:
    with transaction(sessions) as db:
        db.execute(
            update(Evidence)
            .where(Evidence.id == evidence_id, Evidence.media_info.is_(None))
            .values(media_attempts=Evidence.media_attempts - 1, media_started_at=None)
            .execution_options(synchronize_session=False)
        )


@contextmanager
def source(storage: Storage, key: str) -> Iterator[tuple[IO[bytes], int]]:
    """The original as a real, seekable file for the child: in place on local storage, else
    a private temporary copy (the child gets no storage credentials). Yields bytes fetched."""
    if isinstance(storage, LocalStorage):
        with open(storage.path(key), "rb") as f:
            yield f, 0
        return
    with tempfile.TemporaryFile(prefix="portal-media-") as f:
        read = 0
        for chunk in storage.read(key):
            f.write(chunk)
            read += len(chunk)
        f.flush()
        f.seek(0)
        yield f, read


def _record(
    sessions: sessionmaker[Session],
    evidence_id: str,
    sha256: str,
    outcome: Outcome,
    read: int,
    poster: tuple[str | None, bytes | None],
    cipher: ContactCipher,
    now: datetime,
) -> None:
    thumb_key, thumb = poster
    details: dict[str, Any] = {"sha256": sha256, "bytes_read": read}
    sealed = None
    if outcome.info is not None:
        # Place and device are sealed before they reach the database (portal.sealed).
        info, device = split_media(outcome.info)
        sealed = seal(cipher, device)
        details["metadata"] = True
    else:
        # Not media, or a parser that died, overran or met a limit: said once, never retried.
        reason = outcome.unreadable or outcome.error or "not media"
        info = {"error": reason, "unreadable": True}
        details["metadata"] = "unreadable"
        details["reason"] = reason
    if thumb and thumb_key:
        details["thumbnail"] = {"key": thumb_key, "sha256": hashlib.sha256(thumb).hexdigest()}
    with transaction(sessions) as db:
        item = db.get(Evidence, evidence_id)
        if item is None or item.media_info is not None:
            return
        item.media_info = info
        item.device_sealed = sealed
        item.thumbnail_key = thumb_key
        if thumb and thumb_key and db.get(Derivative, thumb_key) is None:
            db.add(
                Derivative(
                    key=thumb_key,
                    source_sha256=sha256,
                    kind="poster",
                    media_type="image/jpeg",
                    size=len(thumb),
                    sha256=details["thumbnail"]["sha256"],
                    created_at=now,
                )
            )
        custody.append(
            db,
            type=EventType.EVIDENCE_DERIVED,
            actor=custody.SYSTEM,
            subject=evidence_id,
            details=details,
            at=now,
        )


def _store_poster(storage: Storage, sha256: str, thumb: bytes) -> tuple[str, bytes]:
    key = derived_key(sha256, "poster.jpg")
    if storage.exists(key):
        # Write-once: stored by a run a crash cut short before its row, or for the same
        # file received before. The stored bytes are the ones to record.
        return key, b"".join(storage.read(key))
    storage.put(key, thumb)
    return key, thumb
