"""What the audit found: failures, each with the log position it concerns, capped per kind."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

SHOWN_PER_KIND = 3
"""Failures of one kind listed in full; further ones are only counted."""
SHOWN_TOTAL = 25

END = float("inf")
"""The position of a finding outside the log (in storage, say): after every entry."""

Finding = tuple[str, int, str]
"""(kind, position, message)."""


@dataclass(order=True)
class Failure:
    position: float
    """Where in the log the problem shows (an entry's position; END for storage)."""
    rank: int
    """At one position: the entry's own checks, then the tree, then other tables."""
    order: int
    message: str = field(compare=False)


_RANK = {"node": 1, "node-missing": 1, "checkpoint-event": 2, "evidence": 2}

KIND_TEXT = {
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
}
"""How the report counts failures of each kind beyond those it lists."""


class Findings:
    """Failures, each with the log position it concerns, capped per kind.

    A check run beside the log audit names its own kind with `describe` before it fails.
    """

    def __init__(self) -> None:
        self.shown: list[Failure] = []
        self.counts: Counter[str] = Counter()
        self.kind_text = dict(KIND_TEXT)

    def describe(self, kind: str, text: str) -> None:
        """Name a further kind of failure, as the report counts those it does not list."""
        self.kind_text[kind] = text

    def fail(self, kind: str, position: float, message: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= SHOWN_PER_KIND:
            self.shown.append(Failure(position, _RANK.get(kind, 0), len(self.shown), message))

    def any(self, *kinds: str) -> bool:
        return any(self.counts[k] for k in kinds)

    def total(self) -> int:
        return sum(self.counts.values())
