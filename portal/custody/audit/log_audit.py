"""The pass over the log: every entry, every stored node, every checkpoint, in one read."""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.custody import merkle
from portal.custody.events import EventType
from portal.custody.models import LogHead

from .checkpoints import CheckpointChecks, load_checkpoints
from .entries import entry_batches
from .findings import Findings
from .progress import Progress
from .report import LogAudit
from .tree import RecomputedTree, compare_nodes, count_stored_nodes
from .worker import EventChecker

_CHECKPOINT_SIGNED = str(EventType.LOG_CHECKPOINT_SIGNED)
_UPLOAD_COMPLETED = str(EventType.UPLOAD_COMPLETED)


class RecordedFile(NamedTuple):
    """A received file as another table records it: the log entry named for it must be the
    upload.completed event of a file with this SHA-256 and size."""

    evidence_id: str
    sha256: str
    size: int


class _Pass:
    """The state of the one streaming pass over the entries."""

    def __init__(
        self,
        db: Session,
        findings: Findings,
        checkpoints: CheckpointChecks,
        evidence_at: Mapping[int, RecordedFile],
    ) -> None:
        self.db = db
        self.findings = findings
        self.checkpoints = checkpoints
        self.evidence_at = evidence_at
        self.evidence_seen: set[int] = set()
        self.range = merkle.CompactRange()
        self.tree = RecomputedTree()

    # -- per entry (the hot loop) --

    def entries(self, progress: Progress | None, total: int) -> tuple[int, int]:
        """Stream the entries; return (entries seen, last seq + 1)."""
        fail = self.findings.fail
        sha256 = hashlib.sha256
        cr_append = self.range.append
        evidence_at = self.evidence_at
        checkpoint_signed = _CHECKPOINT_SIGNED
        next_cp = self.checkpoints.start(self.range)
        pos = expected = 0
        with EventChecker(total) as events:
            for rows in entry_batches(self.db):
                events.submit(pos, rows)
                leaves: list[bytes] = []
                for seq, typ, _, event, stored_leaf, stored_node in rows:
                    if seq != expected:
                        self._gap(pos, seq, expected)
                    expected = seq + 1
                    leaf = sha256(b"\x00" + event).digest()
                    leaves.append(leaf)
                    if leaf != stored_leaf:
                        fail("leaf", pos, f"entry {seq}: leaf hash does not match its event bytes")
                    elif stored_node != leaf:
                        self._leaf_node(pos, seq, stored_node)
                    if typ == checkpoint_signed or seq in evidence_at:
                        self._cross_check(pos, seq, typ, event)
                    cr_append(leaf)
                    pos += 1
                    if pos == next_cp:
                        next_cp = self.checkpoints.reached(self.range)
                compare_nodes(self.db, self.findings, self.tree.add(leaves))
                for kind, at, message in events.results(all=False):
                    fail(kind, at, message)
                if progress is not None:
                    progress("entries", pos, max(total, pos))
            for kind, at, message in events.results(all=True):
                fail(kind, at, message)
        return pos, expected

    def _cross_check(self, pos: int, seq: int, typ: str, event: bytes) -> None:
        """A checkpoint-signing entry against the checkpoints, an evidence row's entry
        against the row (its JSON is judged by check_events)."""
        try:
            obj = json.loads(event)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            obj = {}
        if typ == _CHECKPOINT_SIGNED:
            self.checkpoints.signing_event(pos, seq, obj)
        if seq in self.evidence_at:
            self._evidence_event(pos, seq, obj)

    def _gap(self, pos: int, seq: int, expected: int) -> None:
        if seq < expected:  # the select orders by seq: only a broken database gets here
            message = f"entry {seq} comes after entry {expected - 1}"
        elif seq == expected + 1:
            message = f"entry {expected} is missing (entry {seq} follows entry {expected - 1})"
        else:
            message = (
                f"entries {expected}..{seq - 1} are missing "
                f"(entry {seq} follows entry {expected - 1})"
            )
        self.findings.fail("gap", pos, message)

    def _leaf_node(self, pos: int, seq: int, stored: bytes | None) -> None:
        where = f"entry {seq}: the tree's stored leaf (log_nodes level 0, index {seq})"
        if stored is None:
            self.findings.fail(
                "node-missing", pos, f"{where} is missing: the entry was not appended by the log"
            )
        else:
            self.findings.fail(
                "node",
                pos,
                f"{where} differs from the hash of its event bytes, although its leaf_hash "
                "column matches them: the entry was rewritten after it was appended",
            )

    def _evidence_event(self, pos: int, seq: int, obj: Mapping[str, Any]) -> None:
        self.evidence_seen.add(seq)
        evidence_id, sha, size = self.evidence_at[seq]
        details = obj.get("details")
        details = details if isinstance(details, dict) else {}
        if (
            obj.get("type") != _UPLOAD_COMPLETED
            or details.get("sha256") != sha
            or details.get("size") != size
        ):
            self.findings.fail(
                "evidence",
                pos,
                f"evidence {evidence_id}: its log entry {seq} is not the upload.completed "
                f"event of a file with SHA-256 {sha} and size {size}",
            )


def audit_log(
    db: Session,
    *,
    verifier_key: str,
    origin: str,
    evidence_at: Mapping[int, RecordedFile],
    progress: Progress | None = None,
) -> LogAudit:
    """Audit the stored log, and the received files recorded at `evidence_at` (by log
    index) against it; never raises on bad data: every problem is a finding."""
    findings = Findings()
    head = db.execute(select(LogHead.size).where(LogHead.id == 1)).scalar_one_or_none()
    if head is None:
        findings.fail("head", 0, "log_head has no row: the log has no recorded size")
    head_size = int(head or 0)
    checkpoints = load_checkpoints(db, findings, verifier_key, origin)
    checks = CheckpointChecks(findings, checkpoints)
    audit = _Pass(db, findings, checks, evidence_at)
    # Parsing a million events makes tens of millions of short-lived, acyclic objects that
    # reference counting frees; the cyclic collector would only rescan them (a quarter of
    # the time). It is paused for this pass alone, for the whole process.
    collecting = gc.isenabled()
    gc.disable()
    try:
        count, seq_end = audit.entries(progress, head_size)
    finally:
        if collecting:
            gc.enable()
    if head is not None and (count != head_size or seq_end != head_size):
        findings.fail(
            "head",
            min(count, head_size),
            f"log_head.size is {head_size} but the log holds {count} entries"
            + (f" ending at seq {seq_end - 1}" if seq_end != count else ""),
        )
    stored_nodes = count_stored_nodes(db, findings, count)

    checks.within_log(count)
    pairs = checks.consistency(db, progress)
    for seq, (evidence_id, _, _) in evidence_at.items():
        if seq not in audit.evidence_seen:
            findings.fail(
                "evidence", seq, f"evidence {evidence_id}: its log entry {seq} is not in the log"
            )
    return LogAudit(
        findings=findings,
        verifier_key=verifier_key,
        origin=origin,
        entries=count,
        stored_nodes=stored_nodes,
        checkpoints=checkpoints,
        consistency_proofs=pairs,
        evidence_items=len(evidence_at),
    )
