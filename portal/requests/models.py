"""Evidence requests: public campaigns and one-time links for one named person."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime


class RequestKind(StrEnum):
    PUBLIC = "public"
    INDIVIDUAL = "individual"


class RequestState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    REVOKED = "revoked"


class MediaKind(StrEnum):
    VIDEO = "video"
    PHOTO = "photo"
    AUDIO = "audio"


class EvidenceRequest(Base):
    __tablename__ = "evidence_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # What the witness types or scans: short for posters, long for one-time links.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=RequestState.OPEN)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    title_es: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    description_es: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[int | None] = mapped_column(Integer)
    window_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    media_kinds: Mapped[list[str]] = mapped_column(JSON)
    ask_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Individual requests only: HMAC-SHA256 under a key outside the database, over a random
    # salt and the recipient's name and phone. Lets an officer check "was this sent to X?"
    # without the database (or the log, which never sees it) naming anyone.
    recipient_salt: Mapped[str | None] = mapped_column(String(32))
    recipient_commitment: Mapped[str | None] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Who hears of new arrivals (set by the author; the URL only under NOTIFY_WEBHOOK_ALLOWED).
    notify_url: Mapped[str | None] = mapped_column(Text)
    notify_email: Mapped[str | None] = mapped_column(Text)
