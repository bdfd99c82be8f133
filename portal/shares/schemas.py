"""Bodies of the shares API: what a supervisor sends to open a share, and what is answered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from portal.schemas import Strict

ItemId = Annotated[str, Field(min_length=1, max_length=64)]


class ShareCreate(Strict):
    case_id: str = Field(min_length=1, max_length=64)
    recipient: str = Field(min_length=1, max_length=200, description="The named outsider.")
    days: int = Field(ge=1, le=90, description="Days until the link stops working.")
    evidence_ids: list[ItemId] = Field(
        default_factory=list, max_length=1000, description="Chosen items; empty: the case."
    )
    can_download: bool = False
    watermark: bool = False
    include_identity: bool = Field(
        default=False, description="Show witness file names and identity in the bundle."
    )


class ShareOut(BaseModel):
    id: str
    case_id: str
    evidence_ids: list[str]
    recipient: str
    can_download: bool
    watermark: bool
    include_identity: bool
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    state: Literal["open", "revoked", "expired"]


class ShareCreated(ShareOut):
    link: str = Field(description="The recipient's sign-in page.")
    code: str = Field(description="The one-time code, shown once: pass it on by another channel.")
