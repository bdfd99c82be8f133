"""Changes that weaken a rule protecting evidence, held until a second person confirms them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime


class ChangeKind(StrEnum):
    POLICY = "policy"
    """Lower a retention category's approvals or shorten its keep (target: the category)."""
    OFFENSE = "offense"
    """Downgrade a case's offence class (target: the case id)."""
    ROLE = "role"
    """Grant the supervisor or admin role, to a new (pending) account or an existing one
    (target: the account id)."""
    SECOND_FACTOR = "second_factor"
    """Remove an account's second factor and recovery codes, so it can enrol anew (target:
    the account id); confirmed by a second admin."""
    RELEASE = "release"
    """Release a rendered redacted copy to the public (target: the redaction id); only for
    items whose witness consented to `public_appeal`; confirmed by a supervisor."""


class ChangeState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class ChangeRequest(Base):
    """One requested change; `old` and `new` are what the request saw and asks for."""

    __tablename__ = "change_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64))
    old: Mapped[dict[str, Any]] = mapped_column(JSON)
    new: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=ChangeState.PENDING, index=True)
    requested_by: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
