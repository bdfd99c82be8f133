"""Evidence requests in tests: a valid body, and creating one through the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient


def request_body(case_id: str, now: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "title_es": "¿Grabó Av. Juárez y 16 de Septiembre?",
        "title_en": "Did you film Av. Juárez at 16 de Septiembre?",
        "description_es": "Buscamos video del 30 de octubre entre 21:00 y 21:30.",
        "description_en": "We are looking for video of 30 October between 21:00 and 21:30.",
        "place": "Av. Juárez y 16 de Septiembre",
        "point": {"latitude": 19.4342, "longitude": -99.1412, "radius_m": 150},
        "window_start": (now - timedelta(days=1)).isoformat(),
        "window_end": (now - timedelta(days=1) + timedelta(minutes=30)).isoformat(),
        "media_kinds": ["video", "photo"],
        "ask_contact": False,
        "expires_at": (now + timedelta(days=30)).isoformat(),
        "case_id": case_id,
        **extra,
    }


def new_request(
    client: TestClient, auth: dict[str, str], case_id: str, now: datetime, **extra: Any
) -> dict[str, Any]:
    r = client.post("/api/v1/requests", json=request_body(case_id, now, **extra), headers=auth)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def new_individual(
    client: TestClient, auth: dict[str, str], case_id: str, now: datetime
) -> dict[str, Any]:
    body = {
        **request_body(case_id, now),
        "recipient": {"name": "Rosa Pérez", "phone": "+52 55 1234 5678"},
    }
    r = client.post("/api/v1/requests", json=body, headers=auth)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out
