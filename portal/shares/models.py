"""A share: chosen items opened to one named outsider, behind a link and a one-time code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime


class Share(Base):
    __tablename__ = "shares"

    # The link's secret part: unguessable, so the link alone leads nowhere without the code.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    evidence_ids: Mapped[list[str]] = mapped_column(JSON)
    recipient: Mapped[str] = mapped_column(Text)
    can_download: Mapped[bool] = mapped_column(Boolean, default=False)
    watermark: Mapped[bool] = mapped_column(Boolean, default=False)
    include_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # SHA-256 of the one-time code (high entropy, so no slow hash is needed); spent on use.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of the recipient's session token, set when the code is spent.
    session_hash: Mapped[str | None] = mapped_column(String(64))
    failed_codes: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
