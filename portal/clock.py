"""Time, always UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)
