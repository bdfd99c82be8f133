"""The log's entries as the audit reads them: raw columns in batches, in seq order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from portal.custody.models import LogEntry, LogNode

BATCH = 1 << 14
"""Entries per select. A power of two, so each batch completes whole perfect subtrees."""


def entry_batches(db: Session) -> Iterator[Sequence[Any]]:
    """Raw (seq, type, subject, event, leaf_hash, stored level-0 node) in seq order.

    Plain DBAPI tuples from the session's own connection (so its transaction and snapshot):
    building a SQLAlchemy Row per entry would cost a third of the whole fetch. The only
    parameters are integers, rendered into the SQL, one compilation per batch.
    """
    leaf_node = aliased(LogNode)
    base = (
        select(
            LogEntry.seq,
            LogEntry.type,
            LogEntry.subject,
            LogEntry.event,
            LogEntry.leaf_hash,
            leaf_node.hash,
        )
        .outerjoin(leaf_node, and_(leaf_node.level == 0, leaf_node.index == LogEntry.seq))
        .order_by(LogEntry.seq)
        .limit(BATCH)
    )
    conn = db.connection()
    cursor = conn.connection.cursor()
    try:
        after = -1
        while True:
            stmt = base.where(LogEntry.seq > after)
            cursor.execute(
                str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            )
            rows = cursor.fetchall()
            if not rows:
                return
            if not isinstance(rows[0][3], bytes):  # e.g. psycopg2's memoryview for bytea
                rows = [
                    (seq, typ, sub, bytes(e), bytes(h), None if n is None else bytes(n))
                    for seq, typ, sub, e, h, n in rows
                ]
            yield rows
            if len(rows) < BATCH:
                return
            after = rows[-1][0]
    finally:
        cursor.close()
