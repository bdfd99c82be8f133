"""Cases and the evidence linked to them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, get_args

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime

# How grave the offence is decides how long a closed case's evidence is kept (retention).
Offense = Literal["misdemeanor", "felony", "homicide"]
OFFENSES: tuple[Offense, ...] = get_args(Offense)  # lightest first


def is_downgrade(old: str, new: str) -> bool:
    """A lighter class keeps evidence for less time, with fewer approvals."""
    return OFFENSES.index(new) < OFFENSES.index(old)


class CaseState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=CaseState.OPEN)
    offense: Mapped[str] = mapped_column(String(16), default="felony")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(32))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CaseLink(Base):
    __tablename__ = "case_links"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id"), primary_key=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    linked_by: Mapped[str] = mapped_column(String(32))
