"""Jobs: the work done after receipt (derivations, notifications), one row per item and kind.

The row is the job's truth on every backend: who holds it (a lease), how many runs began,
when it may run next, its progress and its final failure. On SQLite workers take due rows
straight from this table; on PostgreSQL procrastinate delivers "run job N" to workers on any
machine, and the row still decides who runs it (portal.jobs.service.claim).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime


class JobKind(StrEnum):
    DERIVE = "derive"  # metadata and poster (portal.media.service.derive)
    PROXY = "proxy"  # an H.264/AAC review copy for browsers (portal.media.proxy)
    # A request's author told of an item that arrived through it (portal.requests.notify).
    WEBHOOK = "webhook"
    EMAIL = "email"
    REDACT = "redact"  # a redacted copy (portal.redactions); `target` names the redaction


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # final: every attempt used; last_error says why


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("evidence_id", "kind", "target", name="uq_jobs_evidence_kind_target"),
        Index("ix_jobs_state_run_after", "state", "run_after"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    evidence_id: Mapped[str] = mapped_column(ForeignKey("evidence.id"))
    # What within the item the job makes, where an item has several ("" for one per item).
    target: Mapped[str] = mapped_column(String(32), default="", server_default="")
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    worker: Mapped[str | None] = mapped_column(String(128))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
