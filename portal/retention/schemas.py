"""Request and response bodies of the retention routes (also read by the staff pages)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from portal.retention.models import PolicyTrigger
from portal.schemas import Strict


class PolicyOut(BaseModel):
    category: str
    keep_days: int | None
    trigger: str
    approvals_required: int
    approvals_floor: int  # the API refuses to set fewer
    updated_at: datetime


class PolicyUpdate(Strict):
    keep_days: int | None = Field(ge=1, le=365 * 200)
    trigger: PolicyTrigger
    approvals_required: int = Field(ge=0, le=2)


class HoldCreate(Strict):
    reason: str = Field(min_length=3, max_length=2000)
    case_reference: str | None = Field(None, max_length=128)


class HoldRelease(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class HoldOut(BaseModel):
    id: str
    evidence_id: str
    reason: str
    case_reference: str | None
    placed_at: datetime
    released_at: datetime | None


class OverrideIn(Strict):
    until: datetime | None
    reason: str = Field(min_length=3, max_length=2000)


class DueOut(BaseModel):
    evidence_id: str
    sha256: str
    size: int
    category: str | None
    retain_until: datetime | None
    approvals_required: int
    approvers: list[str]
    ready: bool


class ForecastOut(BaseModel):
    evidence_id: str
    category: str | None
    retain_until: datetime | None
    held: bool
