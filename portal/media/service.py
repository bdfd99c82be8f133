"""Derivation after receipt: metadata from the bytes and a poster thumbnail.

The original is only read (through StorageReader, so any backend works); the poster is a
separate write-once object under `derived/<source sha256>/`, recorded with its source hash.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from portal.custody import service as custody
from portal.custody.events import EventType
from portal.db import transaction
from portal.evidence.models import Derivative, Evidence
from portal.media.probe import MediaError, probe
from portal.media.thumbnail import poster
from portal.storage import Storage
from portal.storage.layout import derived_key
from portal.storage.reader import StorageReader

log = logging.getLogger("portal.media")


def derive(
    *, sessions: sessionmaker[Session], storage: Storage, evidence_id: str, now: datetime
) -> None:
    with sessions() as db:
        item = db.get(Evidence, evidence_id)
        if item is None or item.media_info is not None:
            return
        key, sha256 = item.storage_key, item.sha256
    info, thumb, read = _inspect(storage, key, evidence_id)
    thumb_key = None
    details: dict[str, Any] = {
        "sha256": sha256,
        "bytes_read": read,
        "metadata": "error" not in info,
    }
    if thumb:
        thumb_key, thumb = _store_poster(storage, sha256, thumb)
        details["thumbnail"] = {"key": thumb_key, "sha256": hashlib.sha256(thumb).hexdigest()}
    with transaction(sessions) as db:
        item = db.get(Evidence, evidence_id)
        if item is None or item.media_info is not None:
            return
        item.media_info = info
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


def _inspect(
    storage: Storage, key: str, evidence_id: str
) -> tuple[dict[str, Any], bytes | None, int]:
    """Metadata (or the error that stopped it), a poster when there is a picture, bytes read."""
    read = 0
    info: dict[str, Any]
    try:
        with StorageReader(storage, key) as reader:
            info = probe(reader).to_json()  # type: ignore[arg-type]
            read += reader.bytes_fetched
    except MediaError as exc:
        info = {"error": str(exc)}
    thumb: bytes | None = None
    if "error" not in info and info.get("width"):
        try:
            with StorageReader(storage, key) as reader:
                thumb = poster(reader)  # type: ignore[arg-type]
                read += reader.bytes_fetched
        except MediaError as exc:
            log.warning("no poster for %s: %s", evidence_id, exc)
    return info, thumb, read


def _store_poster(storage: Storage, sha256: str, thumb: bytes) -> tuple[str, bytes]:
    key = derived_key(sha256, "poster.jpg")
    if storage.exists(key):
        # Write-once: stored by a run a crash cut short before its row, or for the same
        # file received before. The stored bytes are the ones to record.
        return key, b"".join(storage.read(key))
    storage.put(key, thumb)
    return key, thumb
