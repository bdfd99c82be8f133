"""Redactions: what to hide in a copy of an item's video, who asked and who approved, and the
copy made (a derivative under `derived/<source sha256>/`, never the original)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime


class RedactionState(StrEnum):
    REQUESTED = "requested"  # defined; waits for a second person's approval
    APPROVED = "approved"  # a render job is queued or running
    RENDERED = "rendered"  # the copy exists; `provenance` says how it was made
    FAILED = "failed"  # the render failed for good (or the original went); `failure` says why


class Purpose(StrEnum):
    PUBLIC_APPEAL = "public_appeal"
    DISCLOSURE = "disclosure"
    OTHER = "other"


class Redaction(Base):
    __tablename__ = "redactions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id"), index=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))
    # The checked operations, as the renderer reads them (portal.redactions.schemas).
    operations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(100))  # actors (custody.actors)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    output_key: Mapped[str | None] = mapped_column(Text)
    output_sha256: Mapped[str | None] = mapped_column(String(64))
    output_size: Mapped[int | None] = mapped_column(BigInteger)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    failure: Mapped[str | None] = mapped_column(Text)
    # A public release (only of a rendered copy, consent to `public_appeal`, two people):
    # set when a second supervisor confirmed the release request (portal.changes).
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    released_by: Mapped[str | None] = mapped_column(String(100))
