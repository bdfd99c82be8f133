"""What a storage reconciliation finds: orphans (bytes no row claims), missing bytes (a row
whose object is gone), and what a repair removed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from portal.custody import service as custody
from portal.storage.layout import original_sha256


@dataclass
class Orphan:
    kind: str
    """original, derivative, partial, or object (a key this portal does not write)."""
    key: str
    """The storage key; `partial/<upload id>` for a partial."""
    size: int
    last_modified: datetime
    age: timedelta
    old_enough: bool
    """Older than the upload expiry: nothing in flight can still claim it."""
    reason: str
    """Why no row claims it."""
    upload_id: str | None = None
    keep: str | None = None
    """Why repair leaves it even when old enough."""
    outcome: str | None = None
    """After a repair attempt: removed, locked, or failed (see `error`)."""
    error: str | None = None
    log_index: int | None = None
    """Seq of its storage.orphan_removed event."""

    @property
    def removable(self) -> bool:
        return self.old_enough and self.keep is None

    @property
    def sha256(self) -> str | None:
        return original_sha256(self.key) if self.kind == "original" else None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "upload_id": self.upload_id,
            "size": self.size,
            "last_modified": custody.rfc3339(self.last_modified),
            "age_seconds": int(self.age.total_seconds()),
            "old_enough": self.old_enough,
            "removable": self.removable,
            "reason": self.reason,
            "keep_reason": self.keep,
            "outcome": self.outcome,
            "error": self.error,
            "log_index": self.log_index,
        }


@dataclass(frozen=True)
class Missing:
    kind: str
    """The row's kind: evidence, derivative or upload."""
    id: str
    """Evidence id, derivative key, or upload id."""
    key: str
    """Where its bytes should be; `partial/<upload id>` for an upload."""
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "key": self.key, "reason": self.reason}


@dataclass
class Report:
    orphans: list[Orphan] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    repaired: list[Orphan] = field(default_factory=list)
    objects_checked: int = 0
    partials_checked: int = 0

    @property
    def clean(self) -> bool:
        """Nothing is left to look at: no missing bytes, and every orphan was removed."""
        return not self.missing and all(o.outcome == "removed" for o in self.orphans)

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "orphans": [o.to_json() for o in self.orphans],
            "missing": [m.to_json() for m in self.missing],
            "repaired": [
                {
                    "kind": o.kind,
                    "key": o.key,
                    "upload_id": o.upload_id,
                    "size": o.size,
                    "sha256": o.sha256,
                    "log_index": o.log_index,
                }
                for o in self.repaired
            ],
        }


__all__ = ["Missing", "Orphan", "Report"]
