"""Evidence requests through the API: create, answer, link, end; bad input changes nothing."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from portal.cases.models import CaseLink
from portal.custody import service as custody
from portal.requests.models import EvidenceRequest
from portal.submissions.models import Submission
from tests.support.api import CONSENT, runtime
from tests.support.requests import new_individual, new_request, request_body
from tests.support.retention import T0, Clock, Witness, events, new_case, send
from tests.support.uploads import create_upload, patch


def _answer(client: TestClient, code: str) -> Any:
    return client.post("/api/v1/submissions", json={"consent": CONSENT, "request_code": code})


def _witness(client: TestClient, code: str) -> Witness:
    r = _answer(client, code)
    assert r.status_code == 201, r.text
    return Witness(r.json()["id"], {"Authorization": f"Bearer {r.json()['witness_token']}"})


def _state(client: TestClient) -> tuple[int, int, int]:
    """Requests, submissions and log entries: what a refusal must leave as it was."""
    with runtime(client).sessions() as db:
        reqs = db.scalar(select(func.count()).select_from(EvidenceRequest)) or 0
        subs = db.scalar(select(func.count()).select_from(Submission)) or 0
        return reqs, subs, custody.tree_size(db)


@pytest.mark.both_backends
def test_a_file_sent_through_a_request_lands_in_its_case(
    client: TestClient, inv: dict[str, str], clock: Clock, clip: bytes
) -> None:
    case_id = new_case(client, inv)
    req = new_request(client, inv, case_id, T0)
    assert req["url"].endswith(f"/r/{req['code']}") and req["state"] == "open"
    # A code typed from a poster: lower case, no dash, O for 0.
    typed = req["code"].replace("-", "").lower().replace("0", "o")
    public = client.get(f"/api/v1/public/requests/{typed}")
    assert public.status_code == 200, public.text
    assert "case_id" not in public.json() and public.json()["title"]["en"].startswith("Did you")

    witness = _witness(client, typed)
    evidence_id = send(client, witness, clip)

    with runtime(client).sessions() as db:
        assert db.get(CaseLink, (case_id, evidence_id)) is not None
        assert db.get(Submission, witness.id).request_id == req["id"]  # type: ignore[union-attr]
    linked = events(client, "evidence.linked", evidence_id)
    assert linked[0]["actor"] == "system"
    assert linked[0]["details"] == {"case": case_id, "request": req["id"]}
    for kind in ("request.created", "request.published"):
        assert events(client, kind, req["id"])[0]["actor"].startswith("staff:")
    answered = events(client, "request.answered", req["id"])
    assert answered[0]["details"]["submission"] == witness.id
    assert "code" not in answered[0]["details"]  # beside a witness's submission: the id alone
    assert events(client, "submission.created", witness.id)[0]["details"]["request"] == req["id"]

    stats = client.get(f"/api/v1/requests/{req['id']}", headers=inv).json()["stats"]
    assert stats["submissions"] == 1 and stats["files"] == 1 and stats["bytes"] == len(clip)
    assert stats["last_activity"] is not None
    queue = client.get("/api/v1/evidence", params={"request_id": req["id"]}, headers=inv)
    assert [i["id"] for i in queue.json()["items"]] == [evidence_id]
    other = new_request(client, inv, case_id, T0)
    queue = client.get("/api/v1/evidence", params={"request_id": other["id"]}, headers=inv)
    assert queue.json()["items"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"window_end": (T0 - timedelta(days=2)).isoformat()}, "window_end"),
        ({"expires_at": (T0 - timedelta(minutes=1)).isoformat()}, "expires_at"),
        ({"case_id": "0" * 32}, "case_id"),
        ({"media_kinds": ["smell"]}, "media_kinds"),
        ({"point": {"latitude": 91, "longitude": 0, "radius_m": 10}}, "point"),
        ({"title_es": ""}, "title_es"),
    ],
)
def test_bad_requests_get_422_naming_the_field_and_change_nothing(
    client: TestClient, inv: dict[str, str], clock: Clock, change: dict[str, Any], field: str
) -> None:
    case_id = new_case(client, inv)
    before = _state(client)
    body = {**request_body(case_id, T0), **change}
    r = client.post("/api/v1/requests", json=body, headers=inv)
    assert r.status_code == 422, r.text
    assert set(r.json()) == {"error", "message"} and field in r.json()["message"]
    assert _state(client) == before


def test_a_closed_case_takes_no_request(
    client: TestClient, inv: dict[str, str], clock: Clock
) -> None:
    case_id = new_case(client, inv)
    assert client.post(f"/api/v1/cases/{case_id}/close", json={}, headers=inv).status_code == 200
    before = _state(client)
    r = client.post("/api/v1/requests", json=request_body(case_id, T0), headers=inv)
    assert r.status_code == 422 and "case_id" in r.json()["message"]
    assert _state(client) == before


def test_only_case_workers_manage_requests(
    client: TestClient, inv: dict[str, str], clock: Clock
) -> None:
    from tests.support.api import staff_login

    case_id = new_case(client, inv)
    auditor = staff_login(client, "auditor", name="aud")
    before = _state(client)
    r = client.post("/api/v1/requests", json=request_body(case_id, T0), headers=auditor)
    assert r.status_code == 403
    assert client.post("/api/v1/requests", json=request_body(case_id, T0)).status_code == 401
    assert _state(client) == before


@pytest.mark.parametrize("ending", ["close", "revoke", "expire", "unknown"])
def test_ended_or_unknown_codes_are_refused_and_change_nothing(
    client: TestClient, inv: dict[str, str], clock: Clock, ending: str
) -> None:
    case_id = new_case(client, inv)
    req = new_request(client, inv, case_id, T0)
    code = req["code"]
    if ending == "expire":
        clock.now = T0 + timedelta(days=31)
    elif ending == "unknown":
        code = "ZZZZZ-ZZZZZ"
    else:
        r = client.post(f"/api/v1/requests/{req['id']}/{ending}", headers=inv)
        assert r.status_code == 200 and r.json()["state"] == ending + "d"
        assert events(client, f"request.{ending}d", req["id"])
        again = client.post(f"/api/v1/requests/{req['id']}/{ending}", headers=inv)
        assert again.status_code == 409
    status = 404 if ending == "unknown" else 410
    before = _state(client)
    public = client.get(f"/api/v1/public/requests/{code}")
    assert public.status_code == status and set(public.json()) == {"error", "message"}
    assert "case" not in public.text.lower()
    r = _answer(client, code)
    assert r.status_code == status, r.text
    assert _state(client) == before


def test_an_upload_started_before_the_close_still_lands_in_the_case(
    client: TestClient, inv: dict[str, str], clock: Clock, clip: bytes
) -> None:
    case_id = new_case(client, inv)
    req = new_request(client, inv, case_id, T0)
    witness = _witness(client, req["code"])
    url = create_upload(client, witness.auth, len(clip))
    assert client.post(f"/api/v1/requests/{req['id']}/close", headers=inv).status_code == 200
    assert patch(client, url, witness.auth, 0, clip).status_code == 204
    with runtime(client).sessions() as db:
        assert db.scalar(select(func.count()).where(CaseLink.case_id == case_id)) == 1


def test_a_one_time_link_works_once_and_names_nobody(
    client: TestClient, inv: dict[str, str], clock: Clock
) -> None:
    case_id = new_case(client, inv)
    req = new_individual(client, inv, case_id, T0)
    assert req["kind"] == "individual" and len(req["code"].replace("-", "")) == 20
    assert req["url"] in req["message"]["es"] and req["url"] in req["message"]["en"]
    with runtime(client).sessions() as db:
        row = db.get(EvidenceRequest, req["id"])
        assert row is not None and row.recipient_commitment
        stored = json.dumps([str(v) for v in row.__dict__.values()])
        log = [e.event.decode() for e in custody.entries(db, start=0, end=custody.tree_size(db))]
    for secret in ("Rosa", "rosa", "Pérez", "5512345678", "1234 5678"):
        assert secret not in stored
        assert not any(secret in e for e in log)
    assert not any(req["code"] in e for e in log)

    check = f"/api/v1/requests/{req['id']}/recipient"
    ok = {"name": "rosa  PÉREZ", "phone": "+52 (55) 1234-5678"}
    assert client.post(check, json=ok, headers=inv).json() == {"matches": True}
    wrong = {**ok, "phone": "+52 55 1234 5679"}
    assert client.post(check, json=wrong, headers=inv).json() == {"matches": False}

    _witness(client, req["code"])
    before = _state(client)
    again = _answer(client, req["code"])
    assert again.status_code == 410 and again.json()["error"] == "request_used"
    assert _state(client) == before


def test_edits_are_logged_with_what_was_published(
    client: TestClient, inv: dict[str, str], clock: Clock
) -> None:
    case_id = new_case(client, inv)
    req = new_request(client, inv, case_id, T0)
    body = request_body(case_id, T0, title_en="Did you film the corner?")
    del body["case_id"]
    r = client.patch(f"/api/v1/requests/{req['id']}", json=body, headers=inv)
    assert r.status_code == 200 and r.json()["title"]["en"] == "Did you film the corner?"
    edited = events(client, "request.edited", req["id"])[0]["details"]
    published = events(client, "request.published", req["id"])[0]["details"]
    assert edited["old"] == published["published_sha256"] != edited["new"]
    before = _state(client)
    bad = {**body, "window_end": (T0 - timedelta(days=3)).isoformat()}
    r = client.patch(f"/api/v1/requests/{req['id']}", json=bad, headers=inv)
    assert r.status_code == 422 and "window_end" in r.json()["message"]
    assert _state(client) == before


def test_qr_codes_and_poster_carry_the_request_address(
    client: TestClient, inv: dict[str, str], clock: Clock
) -> None:
    case_id = new_case(client, inv)
    req = new_request(client, inv, case_id, T0)
    png = client.get(f"/api/v1/requests/{req['id']}/qr.png", headers=inv)
    assert png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert [d.text for d in decoded] == [req["url"]]
    svg = client.get(f"/api/v1/requests/{req['id']}/qr.svg", headers=inv)
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    pdf = client.get(f"/api/v1/requests/{req['id']}/poster.pdf", headers=inv)
    assert pdf.headers["content-type"] == "application/pdf"
    page = PdfReader(io.BytesIO(pdf.content)).pages[0]
    text = page.extract_text()
    assert req["code"] in text and "voluntario" in text and "voluntary" in text
    assert len(page.images) == 1
    assert client.get(f"/api/v1/requests/{req['id']}/other.txt", headers=inv).status_code == 404
    one_time = new_individual(client, inv, case_id, T0)
    for name in ("qr.png", "qr.svg", "poster.pdf"):
        r = client.get(f"/api/v1/requests/{one_time['id']}/{name}", headers=inv)
        assert r.status_code == 404, name


def test_one_request_past_its_limit_gets_429_and_changes_nothing(
    client: TestClient, inv: dict[str, str], clock: Clock
) -> None:
    rt = runtime(client)
    rt.settings = rt.settings.model_copy(update={"rate_limit_request_answers": 2})
    case_id = new_case(client, inv)
    req = new_request(client, inv, case_id, T0)
    other = new_request(client, inv, case_id, T0)
    _witness(client, req["code"])
    _witness(client, req["code"])
    before = _state(client)
    r = _answer(client, req["code"])
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert _state(client) == before
    _witness(client, other["code"])  # another request keeps its own count
