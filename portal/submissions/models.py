"""Submissions and the consent each one was made under."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime
from portal.errors import Conflict


class SubmissionState(StrEnum):
    OPEN = "open"
    WITHDRAWN = "withdrawn"


class Submission(Base):
    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # SHA-256 of the witness token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=SubmissionState.OPEN)
    language: Mapped[str] = mapped_column(String(2))
    # The evidence request the witness answered, if any (checked, not free text).
    request_id: Mapped[str | None] = mapped_column(ForeignKey("evidence_requests.id"), index=True)
    incident_occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Plaintext of databases from before incident text was sealed: emptied into
    # `incident_encrypted` at the first start with the key (portal.flows.witness_data).
    incident_place: Mapped[str | None] = mapped_column(Text)
    incident_description: Mapped[str | None] = mapped_column(Text)
    # Fernet token of {"place", "description"} under the contact key (portal.sealed).
    incident_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Fernet token; the key lives outside the database.
    contact_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)

    def ensure_open(self) -> None:
        """Refuse anything new once consent is withdrawn."""
        if self.status == SubmissionState.WITHDRAWN:
            raise Conflict(
                "consent for this submission was withdrawn; nothing more can be added",
                code="withdrawn",
            )


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    version: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(2))
    given_at: Mapped[datetime] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
