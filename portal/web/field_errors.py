"""A form refused by its schema, said in the page's language: each pydantic error type maps to
a catalogue phrase and keeps the field's name. The JSON API keeps pydantic's own words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portal.errors import Invalid
from portal.web.i18n import Translator

# pydantic error type -> catalogue key (after `field_error.`); the limits come from `ctx`.
_PHRASES: dict[str, str] = {
    "missing": "missing",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "string_too_short": "too_short",
    "too_short": "too_short",
    "string_pattern_mismatch": "pattern",
    "literal_error": "choice",
    "enum": "choice",
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "float_type": "number",
    "float_parsing": "number",
    "decimal_parsing": "number",
    "bool_type": "yes_no",
    "bool_parsing": "yes_no",
    "date_type": "date",
    "date_parsing": "date",
    "date_from_datetime_parsing": "date",
    "datetime_type": "date",
    "datetime_parsing": "date",
    "datetime_from_date_parsing": "date",
    "string_type": "text",
    "greater_than_equal": "at_least",
    "greater_than": "above",
    "less_than_equal": "at_most",
    "less_than": "below",
    "extra_forbidden": "unexpected",
}
_LIMITS = {"at_least": "ge", "above": "gt", "at_most": "le", "below": "lt"}


class FormInvalid(Invalid):
    """A form's fields refused by the schema; the page says each problem in its language."""

    def __init__(self, errors: Sequence[Mapping[str, Any]], *, skip: int = 0) -> None:
        # `skip` drops the leading `body` of a request's own validation errors.
        self.errors = [(_field(e.get("loc", ()), skip), e) for e in errors]
        super().__init__(
            "; ".join(f"{where}: {e.get('msg')}" for where, e in self.errors) or "invalid request"
        )

    def described(self, t: Translator) -> str:
        return "; ".join(dict.fromkeys(_describe(t, where, e) for where, e in self.errors))


def _field(loc: Sequence[int | str], skip: int) -> str:
    return ".".join(str(p) for p in loc[skip:])


def _describe(t: Translator, where: str, error: Mapping[str, Any]) -> str:
    phrase = _PHRASES.get(str(error.get("type")), "invalid")
    ctx = error.get("ctx") or {}
    values: dict[str, object] = {}
    if phrase in ("too_long", "too_short"):
        values = {k: ctx.get(k, "") for k in ("max_length", "min_length")}
    elif phrase in _LIMITS:
        values = {"limit": ctx.get(_LIMITS[phrase], "")}
    problem = t("field_error." + phrase, **values)
    return t("field_error.item", field=where, problem=problem) if where else problem
