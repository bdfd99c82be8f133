from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from portal.schemas import Strict


class EvidenceSummary(BaseModel):
    id: str
    submission_id: str
    filename: str
    size: int
    sha256: str
    media_type: str
    received_at: datetime
    status: str
    cases: list[str]
    duration_seconds: float | None = None


class EvidencePage(BaseModel):
    items: list[EvidenceSummary]
    total: int
    page: int
    per_page: int


class EvidenceDetail(EvidenceSummary):
    triage_reason: str | None
    triaged_at: datetime | None
    triaged_by: str | None
    media_info: dict[str, Any] | None
    has_thumbnail: bool
    # The proxy's SHA-256 when a playback proxy exists (served at .../proxy).
    review_copy_sha256: str | None = None
    jobs: list[dict[str, Any]] = []
    log_index: int
    consent_scopes: list[str]
    # When it happened; place and description are sealed and open at .../incident.
    incident: dict[str, Any]
    has_contact: bool
    # Sealed incident text or device metadata exist (GET .../incident opens them, logged).
    has_witness_data: bool = False
    retention_category: str | None
    retain_until: datetime | None
    disposition: str | None
    holds: list[dict[str, Any]]


class Triage(Strict):
    decision: Literal["accept", "decline"]
    reason: str = Field(min_length=3, max_length=2000)
    # Needed to accept an item whose witness withdrew consent (409 consent_withdrawn without).
    withdrawn_reason: str | None = Field(None, min_length=3, max_length=2000)


class CustodyEventOut(BaseModel):
    index: int
    at: str
    type: str
    actor: str
    subject: str
    details: dict[str, Any]


class WitnessDataOut(BaseModel):
    """What the witness wrote (place, description) and what the file's metadata names
    (location, make, model, raw_tags); {} where nothing was given."""

    incident: dict[str, Any]
    device: dict[str, Any]


class ContactOut(BaseModel):
    name: str | None = None
    phone: str | None = None
    email: str | None = None
