"""Reading the values a staff form sends: blank fields, dates, and the API's own schemas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from portal.errors import Invalid
from portal.web.field_errors import FormInvalid

M = TypeVar("M", bound=BaseModel)


def blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


def day(value: str | None, *, end: bool = False, zone: tzinfo = UTC) -> datetime | None:
    """A date typed into a form: the start of that day (or of the next, for `end`) in `zone`,
    the portal's time zone, so a day means what the person reading the pages means by it."""
    if not blank(value):
        return None
    try:
        parsed = date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid(f"not a date: {value!r}", code="bad_date") from None
    if end:
        parsed += timedelta(days=1)
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=zone)


def validated(model: type[M], **data: Any) -> M:
    """The form's fields checked by the API's schema for the same request."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FormInvalid(exc.errors()) from None


def confirmed(value: str | None) -> None:
    """Actions that destroy or loosen (approve destruction, unlink, close a case) carry a
    ticked confirmation box; a form without it changes nothing."""
    if value != "yes":
        raise Invalid("tick the box to confirm", code="confirm_needed")
