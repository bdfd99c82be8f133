"""tus upload state. Offset, hash state and backend state change together, in one commit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime


class UploadState(StrEnum):
    ACTIVE = "active"  # bytes may still come
    COMPLETED = "completed"  # finalised into evidence
    TERMINATED = "terminated"  # ended by the witness, a withdrawal, expiry or a refused type


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    length: Mapped[int | None] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    # Serialised SHA-256 state of bytes [0, offset); NULL means re-read the partial.
    hash_state: Mapped[bytes | None] = mapped_column(LargeBinary)
    backend_state: Mapped[str | None] = mapped_column(Text)
    # The witness's name for the file ("" once erased at withdrawal) and the random salt of
    # its commitment in the log (portal.custody.commitment); both erasable, the log's not.
    filename: Mapped[str] = mapped_column(Text)
    name_salt: Mapped[str | None] = mapped_column(String(64))
    filetype: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=UploadState.ACTIVE)
    lock_owner: Mapped[str | None] = mapped_column(String(32))
    lock_expires: Mapped[datetime | None] = mapped_column(UtcDateTime)
    evidence_id: Mapped[str | None] = mapped_column(String(32))
    # HMAC of the client's address while the upload is unfinished (the per-client cap on
    # unfinished bytes); cleared when it completes or ends, so no pseudonym outlives it.
    client_key: Mapped[str | None] = mapped_column(String(64), index=True)
