"""Spanish and English for what is wrong with one field of a form (a pydantic error type, said
in words; the pages never show pydantic's own English)."""

from __future__ import annotations

FIELDS: dict[str, dict[str, str]] = {
    "field_error.item": {"es": "{field}: {problem}", "en": "{field}: {problem}"},
    "field_error.missing": {"es": "falta este dato", "en": "this is required"},
    "field_error.too_long": {
        "es": "demasiado largo (máximo {max_length})",
        "en": "too long (at most {max_length})",
    },
    "field_error.too_short": {
        "es": "demasiado corto (mínimo {min_length})",
        "en": "too short (at least {min_length})",
    },
    "field_error.pattern": {
        "es": "no tiene la forma esperada",
        "en": "does not have the expected form",
    },
    "field_error.choice": {
        "es": "no es una de las opciones permitidas",
        "en": "is not one of the allowed choices",
    },
    "field_error.integer": {"es": "debe ser un número entero", "en": "must be a whole number"},
    "field_error.number": {"es": "debe ser un número", "en": "must be a number"},
    "field_error.yes_no": {"es": "debe ser sí o no", "en": "must be yes or no"},
    "field_error.date": {"es": "no es una fecha válida", "en": "is not a valid date"},
    "field_error.text": {"es": "debe ser texto", "en": "must be text"},
    "field_error.at_least": {"es": "debe ser al menos {limit}", "en": "must be at least {limit}"},
    "field_error.above": {"es": "debe ser mayor que {limit}", "en": "must be more than {limit}"},
    "field_error.at_most": {"es": "debe ser como mucho {limit}", "en": "must be at most {limit}"},
    "field_error.below": {"es": "debe ser menor que {limit}", "en": "must be less than {limit}"},
    "field_error.unexpected": {"es": "no se esperaba este dato", "en": "was not expected"},
    "field_error.invalid": {"es": "no es válido", "en": "is not valid"},
}
