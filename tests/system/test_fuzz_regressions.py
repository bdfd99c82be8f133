"""Bugs the schemathesis run (tests/system/test_fuzz.py) found, each pinned by a focused test."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import CONSENT, staff_login
from tests.support.uploads import upload


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


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return [
        (method, path, op) for path, ops in r.json()["paths"].items() for method, op in ops.items()
    ]


def test_every_path_template_names_its_parameters(client: TestClient) -> None:
    # OPTIONS /api/v1/uploads/{upload_id} shared a handler with OPTIONS /api/v1/uploads and
    # declared no upload_id: an invalid OpenAPI document that generators refuse.
    for method, path, op in _operations(client):
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), f"{method.upper()} {path}"


def test_no_operation_asks_clients_for_transport_headers(client: TestClient) -> None:
    # tus routes read Content-Length as a declared header, so the schema invited clients to
    # send any text there; the HTTP server refuses such a request before the portal sees it
    # (a plain-text 400, not the portal's JSON error).
    for method, path, op in _operations(client):
        names = {p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"}
        assert not names & {"content-length", "transfer-encoding", "host"}, (
            f"{method.upper()} {path}"
        )


def test_tus_options_answers_on_an_upload_url(client: TestClient) -> None:
    r = client.options("/api/v1/uploads/anything")
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0"


def test_refusals_are_documented_as_they_are_sent(client: TestClient) -> None:
    # 422 was documented as FastAPI's {"detail": [...]}, though the portal sends
    # {"error", "message"}; 401, 403 and 404 were not documented at all; the thumbnail was
    # documented as JSON.
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    error_out = {"$ref": "#/components/schemas/ErrorOut"}
    refused = paths["/api/v1/submissions"]["post"]["responses"]["422"]
    assert refused["content"]["application/json"]["schema"] == error_out
    detail = paths["/api/v1/evidence/{evidence_id}"]["get"]["responses"]
    for status in ("401", "403", "404", "422"):
        assert detail[status]["content"]["application/json"]["schema"] == error_out
    thumbnail = paths["/api/v1/evidence/{evidence_id}/thumbnail"]["get"]["responses"]["200"]
    assert list(thumbnail["content"]) == ["image/jpeg"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]

    r = client.post("/api/v1/submissions", json={})
    assert r.status_code == 422
    assert set(r.json()) == set(doc["components"]["schemas"]["ErrorOut"]["required"])
    r = client.post(
        "/api/v1/submissions", content=b"\xff{", headers={"Content-Type": "application/json"}
    )
    assert (r.status_code, r.json()["error"]) == (400, "bad_request")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/api/v1/users", {"GET", "POST"}),
        ("DELETE", "/api/v1/cases", {"GET", "POST"}),
        ("PUT", "/api/v1/cases/some-case/evidence", {"GET", "POST"}),
    ],
)
def test_method_not_allowed_lists_every_method_of_the_path(
    client: TestClient, method: str, path: str, allowed: set[str]
) -> None:
    # GET and POST on one path are two routes; the 405 named only the first one's methods.
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.json()["error"] == "method_not_allowed"
    assert {m.strip() for m in r.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/log/timestamp/12036191008861812948992",
        "/api/v1/log/proof/consistency?first=1&second=12036191008861812948992",
    ],
)
def test_log_sizes_past_64_bits_are_bad_input_not_a_500(client: TestClient, path: str) -> None:
    # GET /api/v1/log/timestamp/{size} with a size past 2**63 overflowed SQLite's integer: 500.
    r = client.get(path)
    assert r.status_code == 422 and r.json()["error"], r.text
