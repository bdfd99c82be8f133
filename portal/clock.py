"""Time, always UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(at: datetime) -> datetime:
    """Any stored datetime as an aware UTC one. SQLite hands back naive ones (all UTC)."""
    # PostgreSQL hands back the server's zone (e.g. Etc/UTC, which is not datetime.UTC).
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
