"""Local times with the date's own offset, and the custody timeline grouped and in words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from portal.web.i18n import Translator
from portal.web.timeline import group, rows_for_page

ZONE = "America/Ciudad_Juarez"


def test_times_are_local_with_the_offset_of_their_date() -> None:
    es = Translator("es", time_zone=ZONE)
    en = Translator("en", time_zone=ZONE)
    winter = datetime(2026, 12, 3, 16, 13, tzinfo=UTC)
    summer = datetime(2026, 7, 3, 16, 13, tzinfo=UTC)
    assert es.when(winter) == "3 dic 2026, 09:13 (UTC-07:00)"
    assert en.when(summer) == "3 Jul 2026, 10:13 (UTC-06:00)"  # daylight saving
    assert es.when("2026-07-03T16:13:00Z") == "3 jul 2026, 10:13 (UTC-06:00)"
    assert es.day(winter) == "3 de diciembre de 2026"
    assert es.when(None) == ""


def event(
    seq: int, type_: str, actor: str = "staff:u1:investigator", **details: Any
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": f"2026-12-03T16:{seq:02d}:00Z",
        "type": type_,
        "actor": actor,
        "subject": "e",
        "details": details,
    }


def test_repeated_looks_collapse_and_details_read_in_words() -> None:
    events = [
        event(1, "evidence.received", actor="witness:s1", size=2_000_000),
        event(2, "evidence.viewed"),
        event(3, "evidence.timeline_viewed"),
        event(4, "evidence.viewed"),
        event(5, "evidence.timeline_viewed"),
        event(
            6,
            "evidence.triaged",
            to="accepted",
            reason="placa visible",
            consent_withdrawn_reason="orden 12",
        ),
        event(7, "evidence.viewed"),
        event(8, "evidence.viewed", actor="staff:u2:supervisor"),
    ]
    assert [(r.type, r.count) for r in group(events)] == [
        ("evidence.received", 1),
        ("evidence.viewed", 2),
        ("evidence.timeline_viewed", 2),
        ("evidence.triaged", 1),
        ("evidence.viewed", 1),
        ("evidence.viewed", 1),  # another person's look is its own row
    ]
    rows = rows_for_page(Translator("es", time_zone=ZONE), events, {"u1": "Inés"}, {})
    assert rows[0]["who"] == "el testigo" and rows[0]["words"] == ["tamaño: 2,0 MB"]
    assert rows[1]["name"] == "ficha consultada" and rows[1]["count"] == 2
    assert rows[1]["until"] == "3 dic 2026, 09:04 (UTC-07:00)"
    assert rows[3]["who"] == "Inés (investigador(a))"
    assert rows[3]["words"] == [
        "ahora: aceptado",
        "motivo: placa visible",
        "conservada pese al retiro del consentimiento: orden 12",
    ]
    assert '"type": "evidence.triaged"' in rows[3]["raw"][0]
