"""Bugs the schemathesis run (tests/test_fuzz.py) found, each pinned by a focused test."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import CONSENT, staff_login
from tests.helpers import upload


def aware(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    assert at.utcoffset() is not None, f"{value} has no UTC offset"
    return at


def test_timestamps_from_the_database_carry_their_offset(client: TestClient) -> None:
    # SQLite hands back naive datetimes; the API sent them without an offset, which is no
    # RFC 3339 date-time and leaves the reader guessing the zone.
    headers = staff_login(client, "admin")
    me = client.get("/api/v1/auth/me", headers=headers).json()
    assert aware(me["created_at"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    (user,) = client.get("/api/v1/users", headers=headers).json()
    assert aware(user["created_at"]) == aware(me["created_at"])


def test_an_incident_time_given_with_an_offset_keeps_its_instant(
    client: TestClient, video: Path
) -> None:
    # SQLite stored the wall clock of 12:00+02:00 as if it were 12:00 UTC.
    r = client.post(
        "/api/v1/submissions",
        json={"consent": CONSENT, "incident": {"occurred_at": "2024-05-01T12:00:00+02:00"}},
    )
    assert r.status_code == 201, r.text
    witness = {"Authorization": f"Bearer {r.json()['witness_token']}"}
    upload(client, witness, video.read_bytes())
    status = client.get(f"/api/v1/submissions/{r.json()['id']}", headers=witness).json()
    assert aware(status["created_at"])
    (received,) = status["files"]
    assert aware(received["received_at"])

    staff = staff_login(client, "investigator")
    (item,) = client.get("/api/v1/evidence", headers=staff).json()["items"]
    detail = client.get(f"/api/v1/evidence/{item['id']}", headers=staff).json()
    assert aware(detail["incident"]["occurred_at"]) == datetime(2024, 5, 1, 10, tzinfo=UTC)
