"""A staff member's open sessions: listed, and ended one by one or all at once.

Sessions live in the database and every request resolves its token there, so an ended
session stops working on every instance at its next request. A session's public id is a
digest of its stored token hash: it names the session without being usable as one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import StaffSession, StaffUser
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import NotFound


@dataclass(frozen=True)
class OpenSession:
    id: str
    created_at: datetime
    expires_at: datetime
    current: bool


def public_id(token_hash: str) -> str:
    return hashlib.sha256(b"session:" + token_hash.encode()).hexdigest()[:32]


def _open(db: Session, user: StaffUser, now: datetime) -> list[StaffSession]:
    rows = db.scalars(
        select(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
        .order_by(StaffSession.created_at)
    )
    return [s for s in rows if as_utc(s.expires_at) > now]


def list_open(
    db: Session, *, user: StaffUser, now: datetime, current: str | None = None
) -> list[OpenSession]:
    """`user`'s sessions still in force; `current` is the caller's own token hash."""
    return [
        OpenSession(
            public_id(s.token_hash),
            as_utc(s.created_at),
            as_utc(s.expires_at),
            s.token_hash == current,
        )
        for s in _open(db, user, now)
    ]


def end(
    db: Session, *, user: StaffUser, by: StaffUser, now: datetime, session_id: str | None = None
) -> int:
    """End one of `user`'s sessions (by public id), or all of them; logged, naming each."""
    chosen = [
        s
        for s in _open(db, user, now)
        if session_id is None or public_id(s.token_hash) == session_id
    ]
    if session_id is not None and not chosen:
        raise NotFound("no such open session")
    for s in chosen:
        s.revoked_at = now
    if chosen:
        custody.append(
            db,
            type=EventType.STAFF_SESSIONS_ENDED,
            actor=by.actor,
            subject=user.id,
            details={"sessions": [public_id(s.token_hash) for s in chosen]},
            at=now,
        )
    return len(chosen)
