"""Retention policies, legal holds, destruction approvals and tombstones."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, get_args

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime

# What starts a category's clock. A policy may use the first three; withdrawal is the witness's.
PolicyTrigger = Literal["receipt", "triage", "case_closure"]


class Trigger(StrEnum):
    RECEIPT = "receipt"
    TRIAGE = "triage"
    CASE_CLOSURE = "case_closure"
    WITHDRAWAL = "withdrawal"


POLICY_TRIGGERS: tuple[PolicyTrigger, ...] = get_args(PolicyTrigger)


class RetentionPolicy(Base):
    """A category's rule; `keep_days` NULL means keep indefinitely."""

    __tablename__ = "retention_policies"

    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    keep_days: Mapped[int | None] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    # Distinct supervisors who must approve destruction: 0, 1 or 2.
    approvals_required: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Hold(Base):
    __tablename__ = "legal_holds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    case_reference: Mapped[str | None] = mapped_column(String(128))
    placed_by: Mapped[str] = mapped_column(String(32))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_by: Mapped[str | None] = mapped_column(String(32))
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    release_reason: Mapped[str | None] = mapped_column(Text)


class Approval(Base):
    """A supervisor's approval to destroy an item under the category it is due in."""

    __tablename__ = "disposition_approvals"

    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id"), primary_key=True)
    approver_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Tombstone(Base):
    """What remains of a destroyed original: enough to prove what it was and why it went."""

    __tablename__ = "tombstones"

    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    retain_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    purged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    category: Mapped[str] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    approvers: Mapped[list[str]] = mapped_column(JSON)
