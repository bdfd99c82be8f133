"""Incident text and the place and device a file's metadata names are sealed at rest, opened
only by a logged look, and left out of court bundles unless a supervisor includes them.

Reproductions (issue 16): the database held the incident description and the GPS in plaintext
(read from the raw row); a bundle exported without any option carried them.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import text

from portal.auth.service import add_user
from portal.custody import service as custody
from portal.db import transaction
from portal.export.verify import verify_bundle
from tests.support.api import CONTACT, PASSWORD, runtime, staff_login
from tests.support.custody import log_size
from tests.support.evidence import Item, photo_with_gps, received
from tests.support.web import csrf_of

pytestmark = pytest.mark.both_backends

PLACE, DESCRIPTION = "Calle Mayor 1, tercer piso", "disparos vistos desde el balcón"
COURT = {"version": "1", "scopes": ["investigation", "prosecution"], "language": "es"}
SECRETS = (PLACE, DESCRIPTION, "iPhone 15", "Apple", "31.74", "106.48")


@pytest.fixture
def item(client: TestClient) -> Item:
    return received(
        client,
        photo_with_gps(),
        name="foto.jpg",
        consent=COURT,
        contact=CONTACT,
        incident={"place": PLACE, "description": DESCRIPTION},
    )


@pytest.fixture
def investigator(client: TestClient) -> dict[str, str]:
    return staff_login(client, "investigator")


@pytest.fixture
def supervisor(client: TestClient) -> dict[str, str]:
    return staff_login(client, "supervisor")


def raw_rows(client: TestClient, item: Item) -> str:
    """Every column of the item's submission and evidence rows, as the database holds them."""
    with runtime(client).engine.connect() as conn:
        sub = conn.execute(
            text("SELECT * FROM submissions WHERE id = :id"), {"id": item.submission_id}
        ).one()
        ev = conn.execute(text("SELECT * FROM evidence WHERE id = :id"), {"id": item.id}).one()
    return repr(tuple(sub)) + repr(tuple(ev))


def events(client: TestClient, start: int = 0) -> list[dict[str, Any]]:
    with runtime(client).sessions() as db:
        size = custody.tree_size(db)
        return [json.loads(e.event) for e in custody.entries(db, start=start, end=size)]


def test_the_database_holds_no_incident_text_gps_or_device(client: TestClient, item: Item) -> None:
    rows = raw_rows(client, item)
    for secret in SECRETS:
        assert secret not in rows, secret
    with runtime(client).sessions() as db:
        from portal.evidence.models import Evidence
        from portal.submissions.models import Submission

        sub, ev = db.get(Submission, item.submission_id), db.get(Evidence, item.id)
        assert sub is not None and ev is not None and ev.media_info is not None
        assert sub.incident_encrypted is not None and ev.device_sealed is not None
        assert ev.media_info["width"] == 64  # what names no one stays readable
        assert not {"location", "make", "model", "raw_tags"} & set(ev.media_info)


def test_investigators_open_it_only_through_a_logged_look(
    client: TestClient, item: Item, investigator: dict[str, str]
) -> None:
    before = log_size(client)
    detail = client.get(f"/api/v1/evidence/{item.id}", headers=investigator).json()
    listed = client.get("/api/v1/evidence", headers=investigator).text
    assert detail["has_witness_data"] is True
    for secret in SECRETS:
        assert secret not in json.dumps(detail) and secret not in listed, secret
    assert [e for e in events(client, before) if e["type"] == "witness.incident_viewed"] == []

    r = client.get(f"/api/v1/evidence/{item.id}/incident", headers=investigator)
    assert r.status_code == 200, r.text
    assert "no-store" in r.headers["cache-control"]
    body = r.json()
    assert body["incident"] == {"place": PLACE, "description": DESCRIPTION}
    assert (body["device"]["make"], body["device"]["model"]) == ("Apple", "iPhone 15")
    assert body["device"]["location"]["latitude"] == pytest.approx(31.74, abs=1e-4)
    viewed = [e for e in events(client, before) if e["type"] == "witness.incident_viewed"]
    assert len(viewed) == 1 and viewed[0]["subject"] == item.id
    assert viewed[0]["actor"].startswith("staff:") and PLACE not in json.dumps(viewed)


def test_bad_looks_are_refused_and_log_nothing(
    client: TestClient, item: Item, investigator: dict[str, str]
) -> None:
    before = log_size(client)
    r = client.get(f"/api/v1/evidence/{item.id}/incident")
    assert r.status_code == 401 and r.json()["error"]
    r = client.get("/api/v1/evidence/nosuchitem/incident", headers=investigator)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    auditor = staff_login(client, "auditor")
    r = client.get(f"/api/v1/evidence/{item.id}/incident", headers=auditor)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert [e for e in events(client, before) if e["type"] == "witness.incident_viewed"] == []


def test_the_staff_page_opens_it_by_a_logged_look_in_both_languages(
    client: TestClient, item: Item
) -> None:
    rt = runtime(client)
    with transaction(rt.sessions) as db:
        add_user(db, name="iris", role="investigator", password=PASSWORD, now=rt.clock())
    web = TestClient(client.app, base_url="https://testserver")
    r = web.post(
        "/web/staff/login",
        data={"csrf": csrf_of(web, "/web/staff/login"), "username": "iris", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = web.get(f"/web/staff/evidence/{item.id}").text
    assert PLACE not in page and "iPhone 15" not in page and 'id="show-incident"' in page
    csrf = csrf_of(web, f"/web/staff/evidence/{item.id}")
    before = log_size(client)
    for lang, label in (("es", "Dónde ocurrió"), ("en", "Where it happened")):
        shown = web.post(
            f"/web/staff/evidence/{item.id}/incident",
            data={"csrf": csrf},
            headers={"Accept-Language": lang},
        )
        assert shown.status_code == 200, shown.text
        assert PLACE in shown.text and "iPhone 15" in shown.text and label in shown.text
    viewed = [e for e in events(client, before) if e["type"] == "witness.incident_viewed"]
    assert len(viewed) == 2


# --- court bundles ----------------------------------------------------------------------------


def export(client: TestClient, staff: dict[str, str], item: Item, **body: Any) -> Any:
    r = client.post("/api/v1/cases", json={"title": "Balcón"}, headers=staff)
    case_id = r.json()["id"]
    r = client.post(
        f"/api/v1/cases/{case_id}/evidence", json={"evidence_id": item.id}, headers=staff
    )
    assert r.status_code == 204, r.text
    return client.post(f"/api/v1/cases/{case_id}/exports", json=body or None, headers=staff)


def documents(bundle: bytes) -> tuple[dict[str, Any], str, str]:
    """(manifest, the PDF's text, the JSON-LD's text)."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        pdf = next(n for n in names if n.endswith(".pdf"))
        jsonld = next(n for n in names if n.endswith(".jsonld"))
        report = PdfReader(io.BytesIO(zf.read(pdf)))
        return (
            manifest,
            "\n".join(p.extract_text() for p in report.pages),
            zf.read(jsonld).decode(),
        )


def test_a_bundle_leaves_witness_data_out_and_says_so(
    client: TestClient, item: Item, investigator: dict[str, str], tmp_path: Path
) -> None:
    r = export(client, investigator, item)
    assert r.status_code == 200, r.text
    manifest, pdf, jsonld = documents(r.content)
    for secret in SECRETS:
        for where, doc in (("manifest", json.dumps(manifest)), ("pdf", pdf), ("jsonld", jsonld)):
            assert secret not in doc, (secret, where)
    assert "incident.description" in manifest["withheld"]
    assert "device.location" in manifest["withheld"] and manifest["include_witness_data"] is False
    assert "incident.description" in pdf and "device.location" in jsonld
    path = tmp_path / "b.zip"
    path.write_bytes(r.content)
    report = verify_bundle(path, runtime(client).log_verifier)
    assert report.ok, report.text()


def test_a_supervisor_may_include_it_an_investigator_may_not(
    client: TestClient,
    item: Item,
    investigator: dict[str, str],
    supervisor: dict[str, str],
    tmp_path: Path,
) -> None:
    before = log_size(client)
    r = export(client, investigator, item, include_witness_data=True)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert [e for e in events(client, before) if e["type"] == "evidence.exported"] == []
    r = export(client, supervisor, item, include_witness_data="perhaps")
    assert r.status_code == 422 and r.json()["error"]

    r = export(client, supervisor, item, include_witness_data=True)
    assert r.status_code == 200, r.text
    manifest, pdf, jsonld = documents(r.content)
    data = manifest["files"][0]["witness_data"]
    assert data["incident"] == {"place": PLACE, "description": DESCRIPTION}
    assert data["device"]["model"] == "iPhone 15"
    assert manifest["withheld"] == ["witness.contact"]
    assert PLACE in pdf.replace("\n", " ") and PLACE in jsonld
    exported = [e for e in events(client, before) if e["type"] == "evidence.exported"]
    assert exported[-1]["details"]["include_witness_data"] is True
    path = tmp_path / "b.zip"
    path.write_bytes(r.content)
    report = verify_bundle(path, runtime(client).log_verifier)
    assert report.ok, report.text()
