"""Request bodies and answers of the evidence-request API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, EmailStr, Field

from portal.requests.models import MediaKind
from portal.schemas import Strict


class Point(Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    radius_m: int = Field(gt=0, le=50_000)


class RequestText(Strict):
    title_es: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    description_es: str = Field(min_length=1, max_length=4000)
    description_en: str = Field(min_length=1, max_length=4000)
    place: str = Field(min_length=1, max_length=500)
    point: Point | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    media_kinds: list[MediaKind] = Field(default=[MediaKind.VIDEO], min_length=1, max_length=3)
    ask_contact: bool = False
    expires_at: datetime


class Recipient(Strict):
    """The one person a one-time link is for: only committed to, never stored."""

    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=50)


class RequestCreate(RequestText):
    case_id: str = Field(min_length=1, max_length=32)
    # Given: a one-time link for this person rather than a public request.
    recipient: Recipient | None = None
    # Told of each arrival (docs/requests.md#notifications): a URL under NOTIFY_WEBHOOK_ALLOWED, an
    # address when the deployment has an SMTP server.
    notify_url: str | None = Field(None, min_length=1, max_length=2000)
    notify_email: EmailStr | None = None


class RequestStats(BaseModel):
    submissions: int
    files: int
    bytes: int
    last_activity: datetime | None


class PublicRequestOut(BaseModel):
    """Only what was published: nothing of the case behind it."""

    code: str
    title: dict[str, str]
    description: dict[str, str]
    place: str
    point: Point | None
    window_start: datetime | None
    window_end: datetime | None
    media_kinds: list[str]
    ask_contact: bool
    expires_at: datetime


class RequestOut(PublicRequestOut):
    id: str
    kind: str
    state: str
    case_id: str
    url: str
    created_at: datetime
    created_by: str
    ended_at: datetime | None
    used_at: datetime | None
    stats: RequestStats | None = None
    notify_url: str | None = None
    notify_email: str | None = None
    # Individual requests: the text for the officer to send (shown here, never stored).
    message: dict[str, str] | None = None
