"""Reading the values a staff form sends: blank fields, dates, and the API's own schemas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from portal.errors import Invalid

M = TypeVar("M", bound=BaseModel)


def blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


def day(value: str | None, *, end: bool = False) -> datetime | None:
    if not blank(value):
        return None
    try:
        parsed = date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid(f"not a date: {value!r}", code="bad_date") from None
    at = datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    return at + timedelta(days=1) if end else at


def validated(model: type[M], **data: Any) -> M:
    """The form's fields checked by the API's schema for the same request."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        ) from None


def confirmed(value: str | None) -> None:
    """Actions that destroy or loosen (approve destruction, unlink, close a case) carry a
    ticked confirmation box; a form without it changes nothing."""
    if value != "yes":
        raise Invalid("tick the box to confirm", code="confirm_needed")
