"""Appending to the custody log, inside the caller's transaction.

Hand-written because the log is this project's own: one global, gap-free sequence whose
entries are hashed into an RFC 9162 tree as they are appended, so proofs later read O(log n)
stored nodes instead of rehashing leaves.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from portal import metrics
from portal.custody import merkle, note
from portal.custody.actors import SYSTEM as SYSTEM  # re-exported: callers write custody.SYSTEM
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.custody.models import Checkpoint, LogEntry, LogHead, LogNode
from portal.custody.offline import canonical_json
from portal.errors import NotFound, PortalError


class LogRolledBack(PortalError):
    """The database's log is behind, or forks from, the last checkpoint signed."""

    status, code = 503, "log_rolled_back"


GUARD = "log_guard"
"""Session.info key of the guard (portal.custody.mirror.Mirror) a running portal sets."""


class Guard(Protocol):
    refused: str | None

    def check(self, db: Session) -> None:
        """Raise LogRolledBack unless the database's log extends the last signed checkpoint."""


def _guard(session: Session) -> Guard | None:
    guard: Guard | None = session.info.get(GUARD)
    return guard


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append(
    session: Session,
    *,
    type: EventType,
    actor: Actor | str,
    subject: str,
    details: Mapping[str, Any],
    at: datetime,
) -> LogEntry:
    """Append one event. Must run in the same transaction as the change it records."""
    guard = _guard(session)
    if guard is not None and guard.refused is not None:
        guard.check(session)  # still refused raises; a recovered database goes on
    # The UPDATE takes the head row's write lock (PostgreSQL) or is already under the
    # database write lock (SQLite, BEGIN IMMEDIATE): appends are serialised, never racing.
    seq = (
        session.execute(
            update(LogHead)
            .where(LogHead.id == 1)
            .values(size=LogHead.size + 1)
            .returning(LogHead.size)
        ).scalar_one()
        - 1
    )
    event = {
        "seq": seq,
        "at": rfc3339(at),
        "type": str(type),
        "actor": str(actor),
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
        wanted_set = set(wanted)
        siblings = {(lv, ix): h for lv, ix, h in rows if (lv, ix) in wanted_set}
    for level, index, digest in merkle.nodes_for_append(seq, leaf, siblings):
        session.add(LogNode(level=level, index=index, hash=digest))
    session.flush()
    metrics.CUSTODY_APPENDS.labels(str(type)).inc()
    return entry


# --- reading the tree ------------------------------------------------------------------------


def node_fetcher(db: Session) -> merkle.NodeFetcher:
    """One query per call, for the O(log n) nodes a proof names."""

    def get(ids: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        if not ids:
            return {}
        rows = db.execute(
            select(LogNode.level, LogNode.index, LogNode.hash).where(
                or_(*(and_(LogNode.level == lv, LogNode.index == ix) for lv, ix in ids))
            )
        )
        return {(lv, ix): h for lv, ix, h in rows}

    return get


def tree_size(db: Session) -> int:
    return int(db.execute(select(LogHead.size).where(LogHead.id == 1)).scalar_one())


def latest_checkpoint(db: Session) -> Checkpoint | None:
    return db.scalars(select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)).first()


def checkpoint_at(db: Session, *, size: int) -> Checkpoint | None:
    return db.get(Checkpoint, size)


class InconsistentLog(PortalError):
    status, code = 500, "log_inconsistent"


def sign_checkpoint(
    db: Session,
    *,
    signer: str,
    origin: str,
    at: datetime,
    force: bool = False,
    cosigner: str | None = None,
) -> Checkpoint:
    """Sign the current tree head, after proving it extends the last signed one.

    Runs under the head row's lock, so two instances can never sign diverging heads. The
    `log.checkpoint_signed` event is appended after the checkpoint is computed: it is the
    first leaf the next checkpoint covers.
    """
    size = int(
        db.execute(select(LogHead.size).where(LogHead.id == 1).with_for_update()).scalar_one()
    )
    guard = _guard(db)
    if guard is not None:
        guard.check(db)  # against the checkpoint remembered outside the database
    last = latest_checkpoint(db)
    if last is not None and not force:
        tail = db.scalars(select(LogEntry.type).where(LogEntry.seq >= last.size)).all()
        if all(t == EventType.LOG_CHECKPOINT_SIGNED for t in tail):
            return last  # nothing happened since but our own note of the last signing
    get = node_fetcher(db)
    root = merkle.root(size, get)
    if last is not None:
        try:
            proof = merkle.consistency_proof(last.size, size, get) if last.size else []
            if last.size:
                merkle.verify_consistency(last.size, size, proof, last.root, root)
            elif last.root != merkle.EMPTY_ROOT:
                raise merkle.ProofError("the last checkpoint of an empty log has a wrong root")
        except merkle.ProofError as exc:
            raise InconsistentLog(
                f"refusing to sign: size {size} is not consistent with the checkpoint at "
                f"size {last.size} ({exc})"
            ) from exc
    text = note.format_checkpoint(origin, size, root)
    signed = note.sign(text, signer)
    if cosigner is not None:  # a key rotation's transition: both keys sign one checkpoint
        signed = note.cosign(signed, cosigner)
    cp = Checkpoint(size=size, root=root, note=signed, signed_at=at)
    if last is None or last.size != size:
        db.add(cp)
    append(
        db,
        type=EventType.LOG_CHECKPOINT_SIGNED,
        actor=SYSTEM,
        subject="log",
        details={"size": size, "root": base64.b64encode(root).decode()},
        at=at,
    )
    return cp


def inclusion(db: Session, *, index: int, size: int) -> list[bytes]:
    return merkle.inclusion_proof(index, size, node_fetcher(db))


def entry(db: Session, *, seq: int) -> LogEntry:
    found = db.get(LogEntry, seq)
    if found is None:
        raise NotFound(f"no log entry {seq}")
    return found


def first_event(db: Session, *, type: EventType, subject: str) -> LogEntry:
    """The earliest event of `type` about `subject` (a submission's `consent.given`)."""
    found = db.scalars(
        select(LogEntry)
        .where(LogEntry.subject == subject, LogEntry.type == str(type))
        .order_by(LogEntry.seq)
        .limit(1)
    ).first()
    if found is None:
        raise NotFound(f"no {type} event about {subject}")
    return found


def consistency(db: Session, *, first: int, second: int) -> list[bytes]:
    return merkle.consistency_proof(first, second, node_fetcher(db))


def entries(db: Session, *, start: int, end: int) -> list[LogEntry]:
    return list(
        db.scalars(
            select(LogEntry).where(LogEntry.seq >= start, LogEntry.seq < end).order_by(LogEntry.seq)
        )
    )


def read_entries(
    db: Session, *, actor: Actor, start: int, end: int, now: datetime
) -> list[LogEntry]:
    """`entries` for a person to read: raw events name evidence and hashes, so the read is
    itself an event (appended after the range is taken, so it never reports itself)."""
    rows = entries(db, start=start, end=end)
    append(
        db,
        type=EventType.LOG_ENTRIES_READ,
        actor=actor,
        subject="log",
        details={"start": start, "end": start + len(rows)},
        at=now,
    )
    return rows


def events_about(db: Session, *, subjects: Sequence[str]) -> list[LogEntry]:
    return list(
        db.scalars(select(LogEntry).where(LogEntry.subject.in_(subjects)).order_by(LogEntry.seq))
    )


def record_audit(
    db: Session, *, ok: bool, checked_size: int, content: bool, failures: int, at: datetime
) -> LogEntry:
    """An audit re-reads every original: that touch is on the record too, pass or fail."""
    return append(
        db,
        type=EventType.LOG_VERIFIED,
        actor=SYSTEM,
        subject="log",
        details={
            "ok": ok,
            "checked_size": checked_size,
            "originals_rehashed": content,
            "failures": failures,
        },
        at=at,
    )
