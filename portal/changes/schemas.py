"""Bodies of the change-request routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from portal.changes.models import ChangeRequest


class ChangeRequestOut(BaseModel):
    id: str
    kind: str
    target: str
    old: dict[str, Any]
    new: dict[str, Any]
    state: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, req: ChangeRequest) -> ChangeRequestOut:
        return cls(
            id=req.id,
            kind=req.kind,
            target=req.target,
            old=req.old,
            new=req.new,
            state=req.state,
            requested_by=req.requested_by,
            requested_at=req.requested_at,
            decided_by=req.decided_by,
            decided_at=req.decided_at,
        )
