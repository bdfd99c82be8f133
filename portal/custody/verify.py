"""Full audit of the stored custody log: every entry, every stored node, every checkpoint.

`verify_log` rereads the whole log in one pass (batched selects of raw columns, standard
`hashlib`), recomputes the leaf hashes, the perfect subtree hashes and the tree roots, and
compares them with what the database stores and with what was signed:

* entries: gap-free `seq` from 0 up to `log_head.size`; each event is canonical JSON whose
  `seq`, `type` and `subject` are its row's; the stored leaf hash is the event's;
* tree: every stored perfect node (`log_nodes`) equals the recomputed one, and none lies
  beyond the tree;
* checkpoints: signed by the log key for the log's origin; their roots (stored and signed)
  equal the root recomputed from the entries at their size; consecutive checkpoints are
  consistent by a proof built from the stored nodes; each is recorded by the
  `log.checkpoint_signed` entry that follows it;
* evidence: every Evidence row names an `upload.completed` entry with its hash and size and,
  with `check_content`, its original in storage still has that SHA-256 and size.

A signed checkpoint is what witnesses hold: entries changed, removed, reordered or inserted
before a checkpoint's size can no longer reproduce its root. Like the offline receipt
check, bad data never raises: every finding is a line of the report, the earliest first,
with repeats of one kind counted rather than listed.

The caller's session should see one snapshot (on SQLite each transaction of the portal's
engine takes the write lock, so appends wait for the audit). For a large log the JSON checks
run in a child interpreter (see PARALLEL_FROM); everything is read through the session.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import hashlib
import itertools
import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from portal.custody import merkle, note
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.custody.models import Checkpoint, LogEntry, LogHead, LogNode
from portal.custody.offline import Report, canonical_json
from portal.evidence.models import Evidence
from portal.storage import Storage

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total); phases "entries", "checkpoints", "content"."""

BATCH = 1 << 14
"""Entries per select. A power of two, so each batch completes whole perfect subtrees."""
SHOWN_PER_KIND = 3
"""Failures of one kind listed in full; further ones are only counted."""
SHOWN_TOTAL = 25

_CHECKPOINT_SIGNED = str(EventType.LOG_CHECKPOINT_SIGNED)
_UPLOAD_COMPLETED = str(EventType.UPLOAD_COMPLETED)
_END = float("inf")
MISSING = "is missing from storage"


# --- findings ---------------------------------------------------------------------------------


@dataclass(order=True)
class _Failure:
    position: float
    """Where in the log the problem shows (an entry's position; inf for storage)."""
    rank: int
    """At one position: the entry's own checks, then the tree, then other tables."""
    order: int
    message: str = field(compare=False)


_RANK = {"node": 1, "node-missing": 1, "checkpoint-event": 2, "evidence": 2}


class _Findings:
    """Failures, each with the log position it concerns, capped per kind."""

    def __init__(self) -> None:
        self.shown: list[_Failure] = []
        self.counts: Counter[str] = Counter()

    def fail(self, kind: str, position: float, message: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= SHOWN_PER_KIND:
            self.shown.append(_Failure(position, _RANK.get(kind, 0), len(self.shown), message))

    def any(self, *kinds: str) -> bool:
        return any(self.counts[k] for k in kinds)

    def total(self) -> int:
        return sum(self.counts.values())


_KIND_TEXT = {
    "gap": "gaps in the entry sequence",
    "json": "events that are not JSON objects",
    "canonical": "events that are not canonical JSON",
    "seq": "events whose seq differs from their row",
    "type": "events whose type differs from their row",
    "subject": "events whose subject differs from their row",
    "leaf": "stored leaf hashes that do not match their event",
    "head": "log_head problems",
    "node": "stored tree nodes that differ from the recomputed tree",
    "node-missing": "tree nodes missing from log_nodes",
    "node-extra": "stored tree nodes beyond the tree",
    "checkpoint": "checkpoints whose root does not match the entries",
    "checkpoint-note": "checkpoints with a bad signed note",
    "checkpoint-event": "checkpoints and log.checkpoint_signed entries that disagree",
    "consistency": "consistency proofs between checkpoints that fail",
    "evidence": "evidence rows that disagree with the log",
    "content": "evidence originals missing or changed in storage",
}


# --- the tree as recomputed -------------------------------------------------------------------


def _node_span(level: int, index: int) -> str:
    lo = index << level
    hi = lo + (1 << level) - 1
    return f"entry {lo}" if lo == hi else f"entries {lo}..{hi}"


class _Tree:
    """The tree's perfect nodes, computed a level at a time for each batch of leaves.

    Deliberately not the append path's algorithm (merkle.nodes_for_append, one leaf at a
    time): the stored nodes are checked against an independent computation.
    """

    def __init__(self) -> None:
        self.size = 0
        self.carry: dict[int, bytes] = {}
        """Per level, the last node (even index) still waiting for its right sibling."""

    def add(self, leaves: list[bytes]) -> list[tuple[int, int, list[bytes]]]:
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


def _canonical_encoder() -> Callable[[Any], str]:
    """canonical_json's encoding as str, by the C encoder that json.dumps itself drives.

    Only a fast path: an event it finds non-canonical is judged again by canonical_json.
    """
    encoder = json.JSONEncoder(
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    try:
        # (markers, default, encoder, indent, key sep, item sep, sort_keys, skipkeys,
        # allow_nan), as JSONEncoder.iterencode passes them; parsed JSON has no cycles.
        c_encode = make(
            None,
            encoder.default,
            json.encoder.encode_basestring,
            None,
            ":",
            ",",
            True,
            False,
            False,
        )
        c_encode({"a": [1]}, 0)
    except TypeError:  # another interpreter's private signature
        return encoder.encode

    def encode(obj: Any) -> str:
        return "".join(c_encode(obj, 0))

    sample = {"z": [1, -2.5, None, True], "é": {"b": '\u2014\n"', "a": 10**20}, "seq": 0}
    if encode(sample).encode() != canonical_json(sample):  # canonical_json was redefined
        return (
            encoder.encode
            if encoder.encode(sample).encode() == canonical_json(sample)
            else (lambda obj: canonical_json(obj).decode())
        )
    return encode


# --- the per-event checks (in a worker process for a large log) -----------------------------

Finding = tuple[str, int, str]
"""(kind, position, message)."""

PARALLEL_FROM = 250_000
"""Logs at least this long have their events' JSON checked by a worker process while this
one reads and hashes: about a quarter off the audit's time when a second CPU is free. Starting
the worker costs most of a second."""

_ENCODE = _canonical_encoder()
# The decoder's C scanner, which json.loads calls after skipping whitespace.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


Batch = tuple[int, list[int], list[str], list[str], list[bytes]]
"""(position of the first entry, then its columns seq, type, subject, event): columns, as
they cost a third of rows to send to the worker."""


def _batch(start: int, rows: Sequence[Sequence[Any]]) -> Batch:
    return (
        start,
        [row[0] for row in rows],
        [row[1] for row in rows],
        [row[2] for row in rows],
        [row[3] for row in rows],
    )


def _check_events(
    start: int, seqs: list[int], types: list[str], subjects: list[str], events: list[bytes]
) -> list[Finding]:
    """Each event of a batch is canonical JSON naming its row's seq, type and subject."""
    found: list[Finding] = []
    scan, encode = _SCAN, _ENCODE
    for pos, seq, typ, subject, event in zip(
        itertools.count(start), seqs, types, subjects, events, strict=False
    ):
        try:
            text = event.decode()
            obj, end = scan(text, 0)  # canonical text has no whitespace to skip
            parsed = end == len(text)
        except (ValueError, StopIteration):  # ValueError includes UnicodeDecodeError
            parsed = False
        if not parsed:
            text = ""
            try:
                obj = json.loads(event.decode())
            except ValueError as e:
                found.append(("json", pos, f"entry {seq}: event is not UTF-8 JSON: {e}"))
                continue
        if type(obj) is not dict:
            found.append(("json", pos, f"entry {seq}: event is not a JSON object"))
            continue
        try:
            canonical = encode(obj) == text
        except ValueError:
            canonical = False
        if not canonical and not _is_canonical(obj, event):
            found.append(("canonical", pos, f"entry {seq}: event bytes are not canonical JSON"))
        field_seq = obj.get("seq")
        if field_seq != seq or type(field_seq) is not int:
            found.append(("seq", pos, f"entry {seq}: its event says seq {field_seq!r}"))
        if obj.get("type") != typ:
            found.append(
                (
                    "type",
                    pos,
                    f"entry {seq}: its event says type {obj.get('type')!r}, the row says {typ!r}",
                )
            )
        if obj.get("subject") != subject:
            found.append(
                (
                    "subject",
                    pos,
                    f"entry {seq}: its event says subject {obj.get('subject')!r}, "
                    f"the row says {subject!r}",
                )
            )
    return found


def _is_canonical(obj: Any, event: bytes) -> bool:
    try:
        return canonical_json(obj) == event
    except ValueError:  # NaN or infinity, which json.loads accepts
        return False


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


# The worker is a plain child interpreter that imports this module alone: multiprocessing's
# spawn would first rerun the caller's __main__ script in it, side effects and all.
_WORKER_CODE = (
    "import os, sys; out = os.dup(1); os.dup2(2, 1); "  # stray prints go to stderr
    "from portal.custody.verify import _serve; _serve(out)"
)
_FRAME = struct.Struct(">Q")


def _write_frame(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    """The next object, or None at the end of the stream."""
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (length,) = _FRAME.unpack(head)
    data = stream.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data)  # from our own parent or child process only


def _serve(out_fd: int) -> None:
    """The worker process: batches in on stdin, their findings out."""
    gc.disable()  # as in the parent's pass: everything made here is acyclic
    with open(out_fd, "wb") as out:
        while (batch := _read_frame(sys.stdin.buffer)) is not None:
            _write_frame(out, _check_events(*batch))


class _EventChecker:
    """Runs _check_events per batch: in a worker process if `parallel`, else in-process.

    A worker that cannot start or stops answering leaves its batches to be checked here.
    """

    def __init__(self, parallel: bool) -> None:
        self.pending: deque[tuple[Batch, bool]] = deque()
        """Batches submitted, with whether the worker has them, in order."""
        self.replies: queue.SimpleQueue[list[Finding] | None] = queue.SimpleQueue()
        self.worker: subprocess.Popen[bytes] | None = None
        self.reader: threading.Thread | None = None
        if parallel and _usable_cpus() > 1:
            self._start()

    def _start(self) -> None:
        path = os.pathsep.join(p for p in sys.path if p)  # find `portal` as we do
        try:
            self.worker = subprocess.Popen(
                [sys.executable, "-c", _WORKER_CODE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError:
            return
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.worker is not None and self.worker.stdout is not None
        try:
            while (found := _read_frame(self.worker.stdout)) is not None:
                self.replies.put(found)
        except (OSError, ValueError, pickle.UnpicklingError):
            pass
        self.replies.put(None)  # the worker is gone

    def _stop(self) -> None:
        worker, self.worker = self.worker, None
        if worker is None:
            return
        with contextlib.suppress(OSError):
            assert worker.stdin is not None
            worker.stdin.close()  # the worker's end of input: it exits
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if self.reader is not None:
            self.reader.join(timeout=10)
        if worker.stdout is not None:
            worker.stdout.close()

    def __enter__(self) -> _EventChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def submit(self, start: int, rows: Sequence[Sequence[Any]]) -> None:
        batch = _batch(start, rows)
        sent = False
        if self.worker is not None:
            try:
                assert self.worker.stdin is not None
                _write_frame(self.worker.stdin, batch)
                sent = True
            except OSError:  # the worker died
                self._stop()
        self.pending.append((batch, sent))

    def results(self, *, all: bool) -> Iterator[Finding]:
        """Findings of the batches done; with `all`, of every batch. While a worker runs,
        the latest batch is left to it, to check while the next one is read."""
        while self.pending and (all or len(self.pending) > 1 or not self.pending[0][1]):
            batch, sent = self.pending.popleft()
            found = self.replies.get() if sent and self.worker is not None else None
            if found is None:
                if sent:
                    self._stop()
                found = _check_events(*batch)
            yield from found


# --- the audit --------------------------------------------------------------------------------


@dataclass
class _StoredCheckpoint:
    size: int
    root: bytes
    signed_root: bytes | None
    """Root inside the signed note, None if the note is unusable."""
    signature_ok: bool


def _load_checkpoints(
    db: Session, findings: _Findings, verifier_key: str, origin: str
) -> list[_StoredCheckpoint]:
    out = []
    rows = db.execute(
        select(Checkpoint.size, Checkpoint.root, Checkpoint.note).order_by(Checkpoint.size)
    )
    for size, root, text_note in rows:
        pos = float(size)
        where = f"checkpoint at size {size}"
        signature_ok = False
        try:
            text = note.open_note(text_note, verifier_key)
            signature_ok = True
        except ValueError as e:  # NoteError, or a key the crypto library refuses
            findings.fail("checkpoint-note", pos, f"{where}: signature does not verify: {e}")
            try:
                text, _ = note.split_note(text_note)
            except note.NoteError:
                text = ""
        signed_root: bytes | None = None
        try:
            cp = note.parse_checkpoint(text)
        except note.NoteError as e:
            findings.fail("checkpoint-note", pos, f"{where}: signed note is malformed: {e}")
        else:
            signed_root = cp.root
            if cp.origin != origin:
                findings.fail(
                    "checkpoint-note",
                    pos,
                    f"{where}: signed for origin {cp.origin!r}, not this log's {origin!r}",
                )
            if cp.size != size:
                findings.fail(
                    "checkpoint-note", pos, f"{where}: its signed note says size {cp.size}"
                )
            if cp.root != root:
                findings.fail(
                    "checkpoint-note",
                    pos,
                    f"{where}: stored root {root.hex()} differs from its signed root "
                    f"{cp.root.hex()}",
                )
        out.append(_StoredCheckpoint(size, root, signed_root, signature_ok))
    return out


def _entry_batches(db: Session) -> Iterator[Sequence[Any]]:
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


class _Audit:
    def __init__(
        self,
        db: Session,
        findings: _Findings,
        checkpoints: list[_StoredCheckpoint],
        evidence_at: Mapping[int, tuple[str, str, int]],
    ) -> None:
        self.db = db
        self.findings = findings
        self.checkpoints = checkpoints
        self.cp_by_size = {cp.size: cp for cp in checkpoints}
        self.evidence_at = evidence_at
        self.evidence_seen: set[int] = set()
        self.signing_recorded: set[int] = set()
        """Sizes s whose entry s is the log.checkpoint_signed event for size s."""
        self.range = merkle.CompactRange()
        self.tree = _Tree()
        self.last_good_checkpoint: int | None = None
        self.nodes_compared = 0

    # -- per entry (the hot loop) --

    def entries(self, progress: Progress | None, total: int) -> tuple[int, int]:
        """Stream the entries; return (entries seen, last seq + 1)."""
        fail = self.findings.fail
        sha256 = hashlib.sha256
        cr_append = self.range.append
        evidence_at = self.evidence_at
        checkpoint_signed = _CHECKPOINT_SIGNED
        cp_sizes = [cp.size for cp in self.checkpoints]
        cp_next = 0
        while cp_next < len(cp_sizes) and cp_sizes[cp_next] <= 0:
            self._at_checkpoint(cp_sizes[cp_next])
            cp_next += 1
        next_cp = cp_sizes[cp_next] if cp_next < len(cp_sizes) else -1
        pos = expected = 0
        with _EventChecker(parallel=total >= PARALLEL_FROM) as events:
            for rows in _entry_batches(self.db):
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
                        self._at_checkpoint(pos)
                        cp_next += 1
                        next_cp = cp_sizes[cp_next] if cp_next < len(cp_sizes) else -1
                self._compare_nodes(self.tree.add(leaves))
                for kind, at, message in events.results(all=False):
                    fail(kind, at, message)
                if progress is not None:
                    progress("entries", pos, max(total, pos))
            for kind, at, message in events.results(all=True):
                fail(kind, at, message)
        return pos, expected

    def _cross_check(self, pos: int, seq: int, typ: str, event: bytes) -> None:
        """A checkpoint-signing entry against the checkpoints, an evidence row's entry
        against the row (its JSON is judged by _check_events)."""
        try:
            obj = json.loads(event)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            obj = {}
        if typ == _CHECKPOINT_SIGNED:
            self._checkpoint_event(pos, seq, obj)
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

    # -- checkpoints --

    def _at_checkpoint(self, size: int) -> None:
        cp = self.cp_by_size[size]
        computed = self.range.root()
        # The signed root is what witnesses hold; a stored root that differs from it was
        # reported when the checkpoints were read.
        signed = cp.signed_root is not None
        if computed == (cp.signed_root if signed else cp.root):
            self.last_good_checkpoint = size
            return
        good = self.last_good_checkpoint
        where = (
            f"; the checkpoint at size {good} still matches, so it is one of entries "
            f"{good}..{size - 1}"
            if good
            else ""
        )
        self.findings.fail(
            "checkpoint",
            size - 0.5,
            f"checkpoint at size {size}: the root recomputed from entries 0..{size - 1} "
            f"({computed.hex()[:16]}...) differs from its {'signed' if signed else 'stored'} "
            f"root: an entry before {size} was changed, removed, reordered or inserted{where}",
        )

    def _checkpoint_event(self, pos: int, seq: int, obj: Mapping[str, Any]) -> None:
        details = obj.get("details")
        size = details.get("size") if isinstance(details, dict) else None
        root_b64 = details.get("root") if isinstance(details, dict) else None
        cp = self.cp_by_size.get(size) if isinstance(size, int) else None
        if size == seq:
            self.signing_recorded.add(seq)
        if cp is None:
            self.findings.fail(
                "checkpoint-event",
                pos,
                f"entry {seq}: records signing a checkpoint at size {size!r}, "
                "but no such checkpoint is stored",
            )
            return
        try:
            root = base64.b64decode(str(root_b64), validate=True)
        except (binascii.Error, ValueError):
            root = b""
        if root != cp.root:
            self.findings.fail(
                "checkpoint-event",
                pos,
                f"entry {seq}: records a root for the checkpoint at size {size} other than "
                "the stored one",
            )

    def checkpoint_events(self, count: int) -> None:
        """Each checkpoint lies within the log, and its entry s records its signing."""
        for cp in self.checkpoints:
            if cp.size > count:
                self.findings.fail(
                    "checkpoint",
                    cp.size - 0.5,
                    f"checkpoint at size {cp.size} is beyond the end of the log "
                    f"({count} entries): the log was truncated",
                )
            elif cp.size not in self.signing_recorded:
                self.findings.fail(
                    "checkpoint-event",
                    cp.size,
                    f"checkpoint at size {cp.size}: entry {cp.size}, which records its "
                    "signing, is missing or not a log.checkpoint_signed entry for it",
                )

    def consistency(self, progress: Progress | None) -> int:
        """Consistency proofs from the stored nodes between consecutive checkpoints."""
        pairs = [
            (a, b)
            for a, b in zip(self.checkpoints, self.checkpoints[1:], strict=False)
            if a.size > 0
        ]
        get = custody.node_fetcher(self.db)
        for done, (old, new) in enumerate(pairs, 1):
            root1 = old.signed_root or old.root
            root2 = new.signed_root or new.root
            try:
                proof = merkle.consistency_proof(old.size, new.size, get)
                merkle.verify_consistency(old.size, new.size, proof, root1, root2)
            except (merkle.ProofError, merkle.MissingNodeError) as e:
                self.findings.fail(
                    "consistency",
                    new.size - 0.5,
                    f"checkpoints at sizes {old.size} and {new.size}: consistency proof from "
                    f"the stored tree nodes fails: {e}",
                )
            if progress is not None and (done % 64 == 0 or done == len(pairs)):
                progress("checkpoints", done, len(pairs))
        return len(pairs)

    # -- stored nodes --

    def _compare_nodes(self, levels: Sequence[tuple[int, int, list[bytes]]]) -> None:
        """Stored nodes above the leaves against `levels` (level 0 is joined to entries)."""
        conn = self.db.connection()
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
            self.nodes_compared += len(hashes)
            if stored != hashes:
                rows = conn.execute(select(LogNode.index, LogNode.hash).where(in_range))
                have = {int(index): digest for index, digest in rows}
                self._node_differences(level, first, hashes, have)

    def _node_differences(
        self, level: int, first: int, want: Sequence[bytes], have: Mapping[int, bytes]
    ) -> None:
        for index, digest in enumerate(want, first):
            stored = have.get(index)
            if stored == digest:
                continue
            pos = ((index + 1) << level) - 1
            node = f"tree node level {level} index {index} ({_node_span(level, index)})"
            if stored is None:
                self.findings.fail("node-missing", pos, f"{node} is missing from log_nodes")
            else:
                self.findings.fail(
                    "node", pos, f"stored {node} differs from the hash recomputed from the entries"
                )

    # -- evidence --

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


def _check_content(
    db: Session, storage: Storage, findings: _Findings, progress: Progress | None
) -> tuple[int, int]:
    # A purged original is meant to be gone; one whose purge is under way may be either.
    rows = db.execute(
        select(
            Evidence.id, Evidence.storage_key, Evidence.sha256, Evidence.size, Evidence.disposition
        )
        .where(or_(Evidence.disposition.is_(None), Evidence.disposition != "purged"))
        .order_by(Evidence.received_at, Evidence.id)
    ).all()
    total = sum(int(row.size) for row in rows)
    done = 0
    results: dict[str, tuple[str, int] | str] = {}
    for evidence_id, key, sha, size, disposition in rows:
        if key not in results:
            digest = hashlib.sha256()
            length = 0
            try:
                for block in storage.read(key):
                    digest.update(block)
                    length += len(block)
                    if progress is not None:
                        progress("content", done + length, total)
            except FileNotFoundError:  # ObjectMissing
                results[key] = MISSING
            except (OSError, ValueError) as e:  # StorageUnavailable, a bad key
                results[key] = f"cannot be read: {e}"
            else:
                results[key] = (digest.hexdigest(), length)
        done += int(size)
        if progress is not None:
            progress("content", done, total)
        found = results[key]
        where = f"evidence {evidence_id}: original {key}"
        if found == MISSING and disposition == "purging":
            continue
        if isinstance(found, str):
            findings.fail("content", _END, f"{where} {found}")
            continue
        got_sha, got_size = found
        if got_sha != sha:
            findings.fail("content", _END, f"{where} has SHA-256 {got_sha}, expected {sha}")
        if got_size != size:
            findings.fail("content", _END, f"{where} holds {got_size} bytes, expected {size}")
    return len(rows), total


def verify_log(
    db: Session,
    storage: Storage,
    *,
    verifier_key: str,
    origin: str,
    check_content: bool = True,
    progress: Progress | None = None,
) -> Report:
    """Audit the stored log (and with `check_content` the stored originals); never raises
    on bad data: every finding is a line of the report, the earliest in the log first."""
    findings = _Findings()
    report = Report(key_source="given")

    head = db.execute(select(LogHead.size).where(LogHead.id == 1)).scalar_one_or_none()
    if head is None:
        findings.fail("head", 0, "log_head has no row: the log has no recorded size")
    head_size = int(head or 0)
    checkpoints = _load_checkpoints(db, findings, verifier_key, origin)
    evidence_at = {
        int(log_index): (evidence_id, sha, int(size))
        for evidence_id, log_index, sha, size in db.execute(
            select(Evidence.id, Evidence.log_index, Evidence.sha256, Evidence.size)
        )
    }

    audit = _Audit(db, findings, checkpoints, evidence_at)
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
    stored_nodes = int(db.execute(select(func.count()).select_from(LogNode)).scalar_one())
    expected_nodes = _expected_node_count(count)
    if stored_nodes > expected_nodes:
        findings.fail(
            "node-extra",
            count,
            f"log_nodes holds {stored_nodes - expected_nodes} nodes more than a tree of {count} "
            f"entries has{_beyond(db, count)}",
        )

    audit.checkpoint_events(count)
    pairs = audit.consistency(progress)
    for seq, (evidence_id, _, _) in evidence_at.items():
        if seq not in audit.evidence_seen:
            findings.fail(
                "evidence", seq, f"evidence {evidence_id}: its log entry {seq} is not in the log"
            )

    content: tuple[int, int] | None = None
    if check_content:
        content = _check_content(db, storage, findings, progress)
    else:
        report.warnings.append("evidence originals in storage were not re-hashed")

    # The report: the earliest problems first, then what holds.
    shown = sorted(findings.shown)[:SHOWN_TOTAL]
    for failure in shown:
        report.check(False, failure.message)
    hidden = findings.total() - len(shown)
    if hidden:
        kinds = ", ".join(
            f"{n - min(n, SHOWN_PER_KIND)} more {_KIND_TEXT[k]}"
            for k, n in findings.counts.items()
            if n > SHOWN_PER_KIND
        )
        report.check(False, f"{hidden} more problems not listed" + (f" ({kinds})" if kinds else ""))

    if not findings.any("gap", "json", "canonical", "seq", "type", "subject", "leaf", "head"):
        report.check(
            True,
            f"entries: {count} entries, seq 0..{count - 1} without gaps, as log_head says; "
            "each event is canonical JSON naming its own seq, type and subject; "
            "each leaf hash matches its event"
            if count
            else "entries: the log is empty, as log_head says",
        )
    if not findings.any("node", "node-missing", "node-extra"):
        report.check(
            True,
            f"tree: all {stored_nodes} stored nodes match the tree recomputed from the entries",
        )
    if not checkpoints:
        report.warnings.append("no checkpoint has been signed: nothing ties the log to a key")
    elif not findings.any("checkpoint", "checkpoint-note", "checkpoint-event", "consistency"):
        key_name = verifier_key.split("+", 1)[0]
        report.check(
            True,
            f"checkpoints: {len(checkpoints)} (sizes {checkpoints[0].size}..{checkpoints[-1].size})"
            f" signed by key {key_name!r} for origin {origin!r}; each root equals the root "
            f"recomputed from the entries; {pairs} consistency proofs from the stored nodes hold",
        )
    report.checkpoint_verified = bool(checkpoints) and all(cp.signature_ok for cp in checkpoints)
    if not findings.any("evidence"):
        report.check(
            True,
            f"evidence: each of {len(evidence_at)} items names its upload.completed log entry",
        )
    if content is not None and not findings.any("content"):
        report.check(
            True,
            f"content: {content[0]} originals ({content[1]} bytes) re-hashed from storage, "
            "every SHA-256 and size matches",
        )
    if findings.total():
        first = sorted(findings.shown)[0]
        report.warnings.append(f"{findings.total()} problems found; the earliest: {first.message}")
    return report


__all__ = ["BATCH", "Progress", "verify_log"]
