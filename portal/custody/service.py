"""Appending to the custody log, inside the caller's transaction.

Hand-written because the log is this project's own: one global, gap-free sequence whose
entries are hashed into an RFC 9162 tree as they are appended, so proofs later read O(log n)
stored nodes instead of rehashing leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.custody import merkle
from portal.custody.events import EventType
from portal.custody.models import LogEntry, LogHead, LogNode
from portal.custody.offline import canonical_json

SYSTEM = "system"


def witness_actor(submission_id: str) -> str:
    return f"witness:{submission_id}"


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")



def append(
    session: Session,
    *,
    type: EventType,
    actor: str,
    subject: str,
    details: Mapping[str, Any],
    at: datetime,
) -> LogEntry:
    """Append one event. Must run in the same transaction as the change it records."""
    # The UPDATE takes the head row's write lock (PostgreSQL) or is already under the
    # database write lock (SQLite, BEGIN IMMEDIATE): appends are serialised, never racing.
    seq = session.execute(
        update(LogHead).where(LogHead.id == 1).values(size=LogHead.size + 1).returning(LogHead.size)
    ).scalar_one() - 1
    event = {
        "seq": seq,
        "at": rfc3339(at),
        "type": str(type),
        "actor": actor,
        "subject": subject,
        "details": dict(details),
    }
    data = canonical_json(event)
    leaf = merkle.leaf_hash(data)
    entry = LogEntry(seq=seq, at=at, type=str(type), subject=subject, event=data, leaf_hash=leaf)
    session.add(entry)
    wanted = merkle.siblings_needed_for_append(seq)
    siblings: dict[tuple[int, int], bytes] = {}
    if wanted:
        rows = session.execute(
            select(LogNode.level, LogNode.index, LogNode.hash).where(
                LogNode.level.in_({lv for lv, _ in wanted}),
                LogNode.index.in_({ix for _, ix in wanted}),
            )
        )
        siblings = {(lv, ix): h for lv, ix, h in rows if (lv, ix) in set(wanted)}
    for level, index, digest in merkle.nodes_for_append(seq, leaf, siblings):
        session.add(LogNode(level=level, index=index, hash=digest))
    session.flush()
    return entry
