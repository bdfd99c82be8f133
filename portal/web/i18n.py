"""Spanish and English for the web pages: one small catalogue, Spanish by default.

The language is, in order: `?lang=` on the request (then remembered in a cookie), the cookie,
the browser's `Accept-Language`, Spanish. Every string a witness can see is in `CATALOGUE`
with both languages (a test renders the witness pages with an empty catalogue and checks that
no text is left); staff pages use the same catalogue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from portal.clock import as_utc
from portal.web.catalogue import CATALOGUE as CATALOGUE  # read here at call time (tests swap it)

LANGUAGES: Final = ("es", "en")
DEFAULT: Final = "es"
# Dates and months in words, as people in the city write them.
LOCALES: Final = {"es": "es_MX", "en": "en_US"}
COOKIE: Final = "portal_lang"

# witness.js gets these, rendered into a JSON data block (never executed).
JS_KEYS: Final = tuple(k for k in CATALOGUE if k.startswith("js."))


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """`es-MX,es;q=0.9,en;q=0.8` -> [(es, 1.0), (es, 0.9), (en, 0.8)], highest first."""
    out: list[tuple[str, float]] = []
    for part in (header or "").split(",")[:32]:
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            out.append((tag.split("-")[0], q))
    out.sort(key=lambda pair: -pair[1])  # stable: equal weights keep the browser's order
    return out


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for explicit in (query, cookie):
        if explicit in LANGUAGES:
            return str(explicit)
    for tag, _ in parse_accept_language(accept_language):
        if tag in LANGUAGES:
            return tag
    return DEFAULT


class Translator:
    """`t("key", name=...)` in the chosen language (English if a key lacks it)."""

    def __init__(
        self,
        lang: str,
        catalogue: dict[str, dict[str, str]] | None = None,
        *,
        time_zone: str = "UTC",
    ) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self.catalogue = CATALOGUE if catalogue is None else catalogue
        self.zone = ZoneInfo(time_zone)

    def __call__(self, key: str, **values: object) -> str:
        entry = self.catalogue.get(key)
        # A missing key shows itself, so a test (or a reader) notices it.
        text = key if entry is None else entry.get(self.lang) or entry.get("en", "")
        return text.format(**values) if values and text else text

    def js_strings(self) -> dict[str, str]:
        return {k.removeprefix("js."): self(k) for k in JS_KEYS}

    def size(self, n: int) -> str:
        """2,1 MB / 2.1 MB: decimal units, as phones show them."""
        value, unit = float(n), "B"
        for unit in ("B", "kB", "MB", "GB", "TB"):
            if value < 1000 or unit == "TB":
                break
            value /= 1000
        text = f"{value:.0f}" if unit == "B" else f"{value:.1f}"
        return (text.replace(".", ",") if self.lang == "es" else text) + f" {unit}"

    def number(self, n: int) -> str:
        text = f"{n:,}"
        return text.replace(",", ".") if self.lang == "es" else text

    def decimal(self, value: float) -> str:
        """One decimal, with the language's decimal mark: 12,5 / 12.5."""
        text = f"{value:.1f}"
        return text.replace(".", ",") if self.lang == "es" else text

    def when(self, at: datetime | str | None) -> str:
        """Local time in the portal's zone, with its offset: `3 dic 2026, 09:13 (UTC-07:00)`.
        The offset is the date's own (daylight saving included), so no reader has to guess."""
        if at is None or at == "":
            return ""
        moment = as_utc(datetime.fromisoformat(at) if isinstance(at, str) else at)
        local = moment.astimezone(self.zone)
        return format_datetime(local, "d MMM y, HH:mm '(UTC'xxx')'", locale=LOCALES[self.lang])

    def day(self, at: datetime | None) -> str:
        """A local date in words: `3 de diciembre de 2026`."""
        if at is None:
            return ""
        local = as_utc(at).astimezone(self.zone)
        return format_date(local, "long", locale=LOCALES[self.lang])
