"""The signed checkpoints: their notes, their roots against the entries, their consistency,
and the log.checkpoint_signed entry that records each one's signing."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.custody import merkle, note
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.custody.models import Checkpoint, LogEntry

from .findings import Findings
from .progress import Progress


@dataclass
class StoredCheckpoint:
    size: int
    root: bytes
    signed_root: bytes | None
    """Root inside the signed note, None if the note is unusable."""
    signature_ok: bool


def signing_keys(db: Session, findings: Findings, current: str) -> list[tuple[int, str]]:
    """(from size, verifier key) of each key the log was signed with, read from the log's own
    `key.log_rotated` events: a rotation at entry N hands over at the checkpoint of size
    N + 1, which both keys sign. The last must be the key the portal holds now."""
    eras: list[tuple[int, str]] = []
    rows = db.execute(
        select(LogEntry.seq, LogEntry.event)
        .where(LogEntry.type == EventType.KEY_LOG_ROTATED)
        .order_by(LogEntry.seq)
    )
    for seq, event in rows:
        details = json.loads(event)["details"]
        if not eras:
            eras.append((0, details["old_key"]))
        eras.append((int(seq) + 1, details["new_key"]))
    if not eras:
        return [(0, current)]
    if eras[-1][1] != current:
        findings.fail(
            "checkpoint-note", float(eras[-1][0]),
            "the log's last key rotation names a key other than the one the portal signs "
            "with: a rotation is unfinished (run `portal keys rotate-log` again)",
        )  # fmt: skip
    return eras


def keys_for(eras: list[tuple[int, str]], size: int) -> list[str]:
    """The keys a checkpoint of `size` must carry: the one in force, and at a transition
    the one it replaces as well."""
    held = [i for i, (start, _) in enumerate(eras) if start <= size][-1]
    keys = [eras[held][1]]
    if held > 0 and eras[held][0] == size:
        keys.append(eras[held - 1][1])
    return keys


def load_checkpoints(
    db: Session, findings: Findings, verifier_key: str, origin: str
) -> list[StoredCheckpoint]:
    """The stored checkpoints by size, each signed note checked against its row."""
    out = []
    eras = signing_keys(db, findings, verifier_key)
    rows = db.execute(
        select(Checkpoint.size, Checkpoint.root, Checkpoint.note).order_by(Checkpoint.size)
    )
    for size, root, text_note in rows:
        pos = float(size)
        where = f"checkpoint at size {size}"
        signature_ok = False
        try:
            for key in keys_for(eras, size):
                text = note.open_note(text_note, key)
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
            _check_signed(findings, cp, size, root, origin)
        out.append(StoredCheckpoint(size, root, signed_root, signature_ok))
    return out


def _check_signed(
    findings: Findings, cp: note.Checkpoint, size: int, root: bytes, origin: str
) -> None:
    """A signed note's origin, size and root against this log and the checkpoint's row."""
    pos = float(size)
    where = f"checkpoint at size {size}"
    if cp.origin != origin:
        findings.fail(
            "checkpoint-note",
            pos,
            f"{where}: signed for origin {cp.origin!r}, not this log's {origin!r}",
        )
    if cp.size != size:
        findings.fail("checkpoint-note", pos, f"{where}: its signed note says size {cp.size}")
    if cp.root != root:
        findings.fail(
            "checkpoint-note",
            pos,
            f"{where}: stored root {root.hex()} differs from its signed root {cp.root.hex()}",
        )


class CheckpointChecks:
    """The checkpoints against the entries as the audit streams them, then each other."""

    def __init__(self, findings: Findings, checkpoints: list[StoredCheckpoint]) -> None:
        self.findings = findings
        self.checkpoints = checkpoints
        self.by_size = {cp.size: cp for cp in checkpoints}
        self.signing_recorded: set[int] = set()
        """Sizes s whose entry s is the log.checkpoint_signed event for size s."""
        self.last_good: int | None = None
        self._sizes = [cp.size for cp in checkpoints]
        self._next = 0

    def _upcoming(self) -> int:
        """The size of the next checkpoint the entries reach, -1 once none is left."""
        return self._sizes[self._next] if self._next < len(self._sizes) else -1

    def start(self, tree: merkle.CompactRange) -> int:
        """Check the checkpoints of the empty tree; return the size of the next one."""
        while self._next < len(self._sizes) and self._sizes[self._next] <= 0:
            self._root_at(self._sizes[self._next], tree)
            self._next += 1
        return self._upcoming()

    def reached(self, tree: merkle.CompactRange) -> int:
        """The entries reached the next checkpoint's size; return the size of the one after."""
        self._root_at(self._sizes[self._next], tree)
        self._next += 1
        return self._upcoming()

    def _root_at(self, size: int, tree: merkle.CompactRange) -> None:
        cp = self.by_size[size]
        computed = tree.root()
        # The signed root is what witnesses hold; a stored root that differs from it was
        # reported when the checkpoints were read.
        signed = cp.signed_root is not None
        if computed == (cp.signed_root if signed else cp.root):
            self.last_good = size
            return
        good = self.last_good
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

    def signing_event(self, pos: int, seq: int, obj: Mapping[str, Any]) -> None:
        """A log.checkpoint_signed entry against the checkpoint it records."""
        details = obj.get("details")
        size = details.get("size") if isinstance(details, dict) else None
        root_b64 = details.get("root") if isinstance(details, dict) else None
        cp = self.by_size.get(size) if isinstance(size, int) else None
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

    def within_log(self, count: int) -> None:
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

    def consistency(self, db: Session, progress: Progress | None) -> int:
        """Consistency proofs from the stored nodes between consecutive checkpoints."""
        pairs = [
            (a, b)
            for a, b in zip(self.checkpoints, self.checkpoints[1:], strict=False)
            if a.size > 0
        ]
        get = custody.node_fetcher(db)
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
