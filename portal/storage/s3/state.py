"""A partial's committed state: its multipart upload, the parts S3 acknowledged, and the
pending object holding the bytes after the last full part. Persisted as JSON with the offset."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from portal.storage import StorageUnavailable


@dataclass(frozen=True)
class Mpu:
    name: str  # object name under the partial's folder
    id: str


@dataclass(frozen=True)
class Part:
    number: int
    etag: str
    size: int


@dataclass(frozen=True)
class PendingObject:
    name: str
    size: int
    version: str | None


@dataclass(frozen=True)
class PartialState:
    mpu: Mpu | None = None
    parts: tuple[Part, ...] = ()
    pending: PendingObject | None = None
    # Pending objects this state replaced; deleted once it is the committed one.
    superseded: tuple[PendingObject, ...] = field(default=())

    @property
    def parts_size(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def size(self) -> int:
        return self.parts_size + (self.pending.size if self.pending else 0)

    def dumps(self) -> str:
        def obj(o: PendingObject) -> list[Any]:
            return [o.name, o.size, o.version]

        return json.dumps(
            {
                "v": 1,
                "mpu": [self.mpu.name, self.mpu.id] if self.mpu else None,
                "parts": [[p.number, p.etag, p.size] for p in self.parts],
                "pending": obj(self.pending) if self.pending else None,
                "superseded": [obj(o) for o in self.superseded],
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, raw: str | None) -> PartialState:
        if raw is None:
            return cls()
        try:
            d = json.loads(raw)
            if d.get("v") != 1:
                raise ValueError("unknown version")

            def obj(o: list[Any]) -> PendingObject:
                return PendingObject(str(o[0]), int(o[1]), None if o[2] is None else str(o[2]))

            state = cls(
                mpu=Mpu(str(d["mpu"][0]), str(d["mpu"][1])) if d["mpu"] else None,
                parts=tuple(Part(int(n), str(e), int(s)) for n, e, s in d["parts"]),
                pending=obj(d["pending"]) if d["pending"] else None,
                superseded=tuple(obj(o) for o in d["superseded"]),
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise StorageUnavailable(f"unreadable S3 partial state: {exc}") from exc
        if [p.number for p in state.parts] != list(range(1, len(state.parts) + 1)):
            raise StorageUnavailable("S3 partial state has gaps in its part numbers")
        if state.parts and state.mpu is None:
            raise StorageUnavailable("S3 partial state has parts but no multipart upload")
        return state
