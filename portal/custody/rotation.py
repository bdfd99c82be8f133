"""Following the log's signing key through a rotation, with nothing but the old public key.

A rotation appends a `key.log_rotated` event naming the old and the new verifier key, and the
checkpoint signed in that transaction covers the event and carries both keys' signatures. A
verifier that trusts the old key accepts the new one only through such a transition: the
checkpoint opens with the old key, the event is proven included in it, the event names
exactly the old key and the new one, and the checkpoint opens with the new key too.
Standard library only (with merkle and note), like the other offline checks.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal.custody import merkle, note

ROTATED = "key.log_rotated"


class TransitionError(ValueError):
    """The transition does not prove the move from the trusted key to the new one."""


@dataclass(frozen=True)
class Transition:
    checkpoint: str  # the signed note, with both keys' signatures
    event: bytes  # the canonical `key.log_rotated` event
    index: int  # its leaf index
    proof: Sequence[bytes]  # its inclusion proof in the checkpoint's tree

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint,
            "event": base64.b64encode(self.event).decode(),
            "index": self.index,
            "proof": [base64.b64encode(h).decode() for h in self.proof],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transition:
        try:
            return cls(
                checkpoint=str(data["checkpoint"]),
                event=note.decode_base64(str(data["event"])),
                index=int(data["index"]),
                proof=[note.decode_base64(str(h)) for h in data["proof"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TransitionError(f"malformed transition: {exc}") from None


def follow(trusted: str, transition: Transition) -> str:
    """The new verifier key, if `transition` proves the move away from `trusted`."""
    try:
        cp = note.parse_checkpoint(note.open_note(transition.checkpoint, trusted))
    except note.NoteError as exc:
        raise TransitionError(f"the transition is not signed by the trusted key: {exc}") from None
    try:
        leaf = merkle.leaf_hash(transition.event)
        merkle.verify_inclusion(leaf, transition.index, cp.size, transition.proof, cp.root)
    except merkle.ProofError as exc:
        raise TransitionError(f"the rotation event is not in the checkpoint: {exc}") from None
    try:
        event = json.loads(transition.event)
        details = event["details"]
        old, new = details["old_key"], details["new_key"]
    except (ValueError, KeyError, TypeError):
        raise TransitionError("the rotation event is malformed") from None
    if event.get("type") != ROTATED or old != trusted or not isinstance(new, str):
        raise TransitionError("the event is not a rotation away from the trusted key")
    try:
        note.open_note(transition.checkpoint, new)
    except (note.NoteError, ValueError) as exc:
        raise TransitionError(f"the transition is not signed by the new key: {exc}") from None
    return new
