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


class CaseClose(Strict):
    offense: Offense | None = None
