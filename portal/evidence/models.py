"""Evidence items, their derivatives and playbacks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime


class TriageState(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Disposition(StrEnum):
    """What retention did to an item's original; None (NULL) while it is kept."""

    PURGING = "purging"  # the storage delete is under way
    PURGED = "purged"  # the bytes are gone; a tombstone remains


class Evidence(Base):
    __tablename__ = "evidence"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    upload_id: Mapped[str] = mapped_column(String(32), unique=True)
    # As on the upload: the name ("" once erased) and the salt of its commitment in the log.
    filename: Mapped[str] = mapped_column(Text)
    name_salt: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(255), index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    storage_key: Mapped[str] = mapped_column(Text)
    # Log index of this item's upload.completed event (the receipt proves it).
    log_index: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=TriageState.NEW, index=True)
    triage_reason: Mapped[str | None] = mapped_column(Text)
    triaged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    triaged_by: Mapped[str | None] = mapped_column(String(32))
    # Extracted from the bytes after receipt (portal.media.probe); None until then. Only
    # what names no place or device: GPS, make, model and the raw tags are in `device_sealed`
    # (a Fernet token under the contact key, portal.sealed).
    media_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    device_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    thumbnail_key: Mapped[str | None] = mapped_column(Text)
    # Runs of the media parser begun for this item, and when the last began: a run that
    # never finished (the server died) is tried again, but not forever (portal.media.service).
    media_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    media_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Retention (portal.retention): the category that decides, and the date it gives (NULL:
    # indefinitely). `locked_until` is what storage was told; it only ever grows.
    retention_category: Mapped[str | None] = mapped_column(String(64))
    retain_until: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    retention_override: Mapped[datetime | None] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # None (kept) or a Disposition.
    disposition: Mapped[str | None] = mapped_column(String(16), index=True)


class Derivative(Base):
    """An object made from an original (poster, proxy, redaction); names its source hash."""

    __tablename__ = "derivatives"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    source_sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    media_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Playback(Base):
    """One viewing session of an original or of its review copy; its range requests fold into
    one event (portal.evidence.playback)."""

    __tablename__ = "playbacks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id"), index=True)
    # The viewer: a staff user's id, or a share's id for its recipient (portal.evidence.playbacks).
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    # The review copy (a Derivative's SHA-256) this playback serves; NULL: the original.
    copy_sha256: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Merged [start, end) byte ranges served so far, and the total bytes sent.
    ranges: Mapped[list[list[int]]] = mapped_column(JSON)
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
