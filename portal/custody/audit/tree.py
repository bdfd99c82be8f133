"""The tree's perfect nodes as recomputed from the entries, against those stored in log_nodes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from portal.custody.models import LogNode

from .findings import Findings

Level = tuple[int, int, list[bytes]]
"""(level, first index, hashes): a run of perfect nodes on one level."""


def node_span(level: int, index: int) -> str:
    lo = index << level
    hi = lo + (1 << level) - 1
    return f"entry {lo}" if lo == hi else f"entries {lo}..{hi}"


class RecomputedTree:
    """The tree's perfect nodes, computed a level at a time for each batch of leaves.

    Deliberately not the append path's algorithm (merkle.nodes_for_append, one leaf at a
    time): the stored nodes are checked against an independent computation.
    """

    def __init__(self) -> None:
        self.size = 0
        self.carry: dict[int, bytes] = {}
        """Per level, the last node (even index) still waiting for its right sibling."""

    def add(self, leaves: list[bytes]) -> list[Level]:
        """(level, first index, hashes) of the perfect nodes that `leaves` complete."""
        sha256 = hashlib.sha256
        out = []
        level, first, hashes = 0, self.size, leaves
        self.size += len(leaves)
        while hashes:
            out.append((level, first, hashes))
            row = [self.carry.pop(level), *hashes] if first & 1 else hashes
            start = first & ~1
            if len(row) & 1:
                self.carry[level] = row[-1]
            parents = [
                sha256(b"\x01" + a + b).digest() for a, b in zip(row[::2], row[1::2], strict=False)
            ]
            level, first, hashes = level + 1, start >> 1, parents
        return out


def compare_nodes(db: Session, findings: Findings, levels: Sequence[Level]) -> None:
    """Stored nodes above the leaves against `levels` (level 0 is joined to entries)."""
    conn = db.connection()
    for level, first, hashes in levels:
        if level == 0:
            continue
        end = first + len(hashes)
        in_range = and_(LogNode.level == level, LogNode.index >= first, LogNode.index < end)
        # Unique (level, index) in [first, end): as many rows as hashes means all of them,
        # and index order lines them up. One range scan of the primary key, no sort.
        stored = (
            conn.execute(select(LogNode.hash).where(in_range).order_by(LogNode.index))
            .scalars()
            .all()
        )
        if stored != hashes:
            rows = conn.execute(select(LogNode.index, LogNode.hash).where(in_range))
            have = {int(index): digest for index, digest in rows}
            _node_differences(findings, level, first, hashes, have)


def _node_differences(
    findings: Findings,
    level: int,
    first: int,
    want: Sequence[bytes],
    have: Mapping[int, bytes],
) -> None:
    for index, digest in enumerate(want, first):
        stored = have.get(index)
        if stored == digest:
            continue
        pos = ((index + 1) << level) - 1
        node = f"tree node level {level} index {index} ({node_span(level, index)})"
        if stored is None:
            findings.fail("node-missing", pos, f"{node} is missing from log_nodes")
        else:
            findings.fail(
                "node", pos, f"stored {node} differs from the hash recomputed from the entries"
            )


def count_stored_nodes(db: Session, findings: Findings, size: int) -> int:
    """How many nodes log_nodes holds; more than a tree of `size` leaves has is a finding."""
    stored = int(db.execute(select(func.count()).select_from(LogNode)).scalar_one())
    expected = _expected_node_count(size)
    if stored > expected:
        findings.fail(
            "node-extra",
            size,
            f"log_nodes holds {stored - expected} nodes more than a tree of {size} "
            f"entries has{_beyond(db, size)}",
        )
    return stored


def _beyond(db: Session, size: int) -> str:
    """How many entries the stored nodes say the tree once had, if more than `size`."""
    rows = db.execute(select(LogNode.level, func.max(LogNode.index)).group_by(LogNode.level))
    # Node (level, index) covers entries up to (index + 1) * 2**level - 1.
    covered = max(((int(index) + 1) << int(level) for level, index in rows), default=0)
    if covered <= size:
        return ""
    return (
        f": they cover entries up to {covered - 1}, so the tree had at least {covered} "
        "entries: entries were removed"
    )


def _expected_node_count(size: int) -> int:
    """Perfect subtrees of a tree of `size` leaves: sum of size >> level."""
    return 2 * size - size.bit_count()
