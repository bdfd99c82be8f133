from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from portal.schemas import Strict

Language = Literal["es", "en"]


class ConsentGiven(Strict):
    version: str = Field(max_length=16)
    scopes: list[str] = Field(max_length=8)
    language: Language


class Incident(Strict):
    occurred_at: datetime | None = None
    place: str | None = Field(None, max_length=500)
    description: str | None = Field(None, max_length=5000)


class Contact(Strict):
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=50)
    email: EmailStr | None = None


class SubmissionCreate(Strict):
    consent: ConsentGiven
    incident: Incident | None = None
    contact: Contact | None = None
    # The code of the evidence request answered (a poster's or a one-time link's).
    request_code: str | None = Field(None, max_length=32, pattern=r"^[A-Za-z0-9 -]+$")


class SubmissionCreated(BaseModel):
    id: str
    witness_token: str
    upload_url: str


class ScopeOut(BaseModel):
    name: str
    required: bool
    text: dict[str, str]


class ConsentOut(BaseModel):
    version: str
    sha256: str
    text: dict[str, str]
    scopes: list[ScopeOut]


class RetentionOut(BaseModel):
    state: str
    until: datetime | None
    reason: str


class FileOut(BaseModel):
    id: str
    name: str
    size: int
    sha256: str
    media_type: str
    received_at: datetime
    retention: RetentionOut | None = None


class UploadOut(BaseModel):
    id: str
    name: str
    offset: int
    length: int | None
    status: str


class SubmissionOut(BaseModel):
    id: str
    status: str
    withdrawn_at: datetime | None = None
    created_at: datetime
    consent_version: str
    scopes: list[str]
    files: list[FileOut]
    uploads: list[UploadOut]
