"""Reads that return evidence ids, hashes or raw events are custody events themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.api import staff_login
from tests.support.custody import of_type
from tests.support.evidence import received

pytestmark = pytest.mark.both_backends


def test_due_forecast_and_log_entries_are_logged(client: TestClient, video: Path) -> None:
    item = received(client, video.read_bytes())
    supervisor = staff_login(client, "supervisor")
    auditor = staff_login(client, "auditor")

    assert client.get("/api/v1/retention/due", headers=supervisor).status_code == 200
    forecast = client.get("/api/v1/retention/forecast", params={"days": 3650}, headers=supervisor)
    assert forecast.status_code == 200
    assert item.id in [f["evidence_id"] for f in forecast.json()]
    r = client.get("/api/v1/log/entries", params={"start": 0, "end": 3}, headers=auditor)
    assert r.status_code == 200

    (due,) = of_type(client, "retention.due_listed")
    assert due["details"] == {"items": []}
    (ahead,) = of_type(client, "retention.forecast_listed")
    assert ahead["details"] == {"days": 3650, "items": [item.id]}
    assert ahead["actor"].startswith("staff:")
    (read,) = of_type(client, "log.entries_read")
    assert read["details"] == {"start": 0, "end": 3}
    assert ":auditor" in read["actor"]


def test_a_refused_read_logs_nothing(client: TestClient) -> None:
    auditor = staff_login(client, "auditor")
    r = client.get("/api/v1/log/entries", params={"start": 5, "end": 2}, headers=auditor)
    assert r.status_code == 422
    assert client.get("/api/v1/retention/due").status_code == 401
    assert of_type(client, "log.entries_read") == []
    assert of_type(client, "retention.due_listed") == []
