"""Who did it: the actor string every custody event carries, formatted and parsed here only.

The log is permanent and verifiers outside the portal read it, so the format is fixed:
`staff:<user id>:<role>`, `witness:<submission id>`, `system` (the portal on its own),
`cli` (an operator at the command line) and `share:<share id>` (a share's recipient, read
here as `other`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["staff", "witness", "system", "cli", "other"]

SYSTEM = "system"
CLI = "cli"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str = ""  # the staff user's or the submission's id
    role: str = ""  # staff only

    @classmethod
    def staff(cls, user_id: str, role: str) -> Actor:
        return cls("staff", user_id, role)

    @classmethod
    def witness(cls, submission_id: str) -> Actor:
        return cls("witness", submission_id)

    @classmethod
    def parse(cls, text: str) -> Actor:
        """Any actor string of the log; one this code does not know is kept as `other`."""
        kind, _, rest = text.partition(":")
        if kind == "staff" and rest:
            user_id, _, role = rest.partition(":")
            return cls("staff", user_id, role)
        if kind == "witness" and rest and ":" not in rest:
            return cls("witness", rest)
        if text in (SYSTEM, CLI):
            return cls(text)  # type: ignore[arg-type]  # narrowed by the membership test
        return cls("other", text)

    def __str__(self) -> str:
        if self.kind == "staff":
            return f"staff:{self.id}:{self.role}"
        if self.kind == "witness":
            return f"witness:{self.id}"
        if self.kind == "other":
            return self.id
        return self.kind


def staff_ids(actors: set[str] | list[str]) -> set[str]:
    """The staff user ids among these actor strings (to look their names up at once)."""
    return {a.id for a in map(Actor.parse, actors) if a.kind == "staff"}
