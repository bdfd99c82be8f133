from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from portal.cases.models import Offense
from portal.schemas import Strict


class CaseCreate(Strict):
    title: str = Field(min_length=1, max_length=300)
    reference: str | None = Field(None, max_length=128)
    offense: Offense = "felony"


class CaseOut(BaseModel):
    id: str
    title: str
    reference: str | None
    status: str
    offense: str
    created_at: datetime
    evidence_count: int


class LinkRequest(Strict):
    evidence_id: str = Field(min_length=1, max_length=64)
    # Needed to link an item whose witness withdrew consent (409 consent_withdrawn without).
    withdrawn_reason: str | None = Field(None, min_length=3, max_length=2000)


class CaseClose(Strict):
    offense: Offense | None = None
