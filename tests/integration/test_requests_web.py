"""The evidence-request pages: the witness's page in both languages, its refusals as pages,
the form bound to the request, the staff's list with its numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from portal.auth.service import add_user
from portal.config import Settings
from portal.db import transaction
from portal.submissions.models import Submission
from tests.support.api import CONSENT, PASSWORD, runtime, staff_login
from tests.support.requests import new_individual, new_request
from tests.support.web import csrf_of, web_app

HTTPS = "https://testserver"


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


def _case(web: TestClient, auth: dict[str, str]) -> str:
    r = web.post("/api/v1/cases", json={"title": "Homicidio en Av. Juárez"}, headers=auth)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_the_request_page_shows_only_what_was_published(web: TestClient) -> None:
    inv = staff_login(web, "investigator", name="ivan")
    case_id = _case(web, inv)
    req = new_request(web, inv, case_id, runtime(web).clock(), ask_contact=True)
    short = web.get(f"/r/{req['code']}", follow_redirects=False)
    assert short.status_code == 307 and short.headers["location"] == f"/web/r/{req['code']}"
    es = web.get(f"/web/r/{req['code']}", headers={"Accept-Language": "es-MX"})
    assert es.status_code == 200
    assert "¿Grabó Av. Juárez" in es.text and "Responder es voluntario" in es.text
    assert "anonimato" in es.text and "Solo el equipo" in es.text
    assert f'name="request_code" value="{req["code"]}"' in es.text
    assert "Homicidio" not in es.text and case_id not in es.text
    en = web.get(f"/web/r/{req['code']}?lang=en")
    assert "Did you film" in en.text and "Answering is voluntary" in en.text
    # No tracking, no third-party content: every address on the page is the portal's own.
    assert not re.search(r'(src|href)="(https?:)?//', en.text)


def test_answering_through_the_form_binds_the_submission(web: TestClient, video: Path) -> None:
    inv = staff_login(web, "investigator", name="ivan")
    case_id = _case(web, inv)
    req = new_request(web, inv, case_id, runtime(web).clock())
    csrf = csrf_of(web, f"/web/r/{req['code']}")
    form = {
        "csrf": csrf,
        "consent_version": CONSENT["version"],
        "scopes": CONSENT["scopes"],
        "request_code": req["code"],
    }
    r = web.post("/web/submissions", data=form)
    assert r.status_code == 200, r.text
    assert re.search(r'data-token="[^"]+"', r.text)  # the upload page, token in hand
    with runtime(web).sessions() as db:
        sub = db.scalars(select(Submission)).one()
        assert sub.request_id == req["id"]
    with transaction(runtime(web).sessions) as db:
        add_user(db, name="sam", role="supervisor", password=PASSWORD, now=runtime(web).clock())
    login = {"csrf": csrf_of(web, "/web/staff/login"), "username": "sam", "password": PASSWORD}
    assert web.post("/web/staff/login", data=login, follow_redirects=False).status_code == 303
    listing = web.get("/web/staff/requests")
    assert listing.status_code == 200 and req["code"] in listing.text
    assert re.search(r'class="n-subs">1<', listing.text)
    poster = web.get(f"/web/staff/requests/{req['id']}/poster.pdf")
    assert poster.headers["content-type"] == "application/pdf"


@pytest.mark.parametrize(
    ("ending", "status", "spanish", "english"),
    [
        ("unknown", 404, "No hay ninguna petición", "There is no request"),
        ("close", 410, "ya está cerrada", "This request is closed"),
        ("revoke", 410, "fue retirada", "was withdrawn"),
    ],
)
def test_ended_codes_get_a_page_in_the_witness_language(
    web: TestClient, ending: str, status: int, spanish: str, english: str
) -> None:
    inv = staff_login(web, "investigator", name="ivan")
    case_id = _case(web, inv)
    req = new_request(web, inv, case_id, runtime(web).clock())
    code = "ZZZZZ-ZZZZZ" if ending == "unknown" else req["code"]
    if ending != "unknown":
        assert web.post(f"/api/v1/requests/{req['id']}/{ending}", headers=inv).status_code == 200
    es = web.get(f"/web/r/{code}", headers={"Accept-Language": "es"})
    assert es.status_code == status and spanish in es.text
    en = web.get(f"/web/r/{code}?lang=en")
    assert en.status_code == status and english in en.text
    assert "Homicidio" not in en.text and case_id not in en.text


def test_a_one_time_link_shows_already_used_after_its_one_use(web: TestClient) -> None:
    inv = staff_login(web, "investigator", name="ivan")
    case_id = _case(web, inv)
    req = new_individual(web, inv, case_id, runtime(web).clock())
    link = req["url"].removeprefix(HTTPS)
    first = web.get(link)
    assert first.status_code == 200  # a redirect to the page, which opens
    r = web.post("/api/v1/submissions", json={"consent": CONSENT, "request_code": req["code"]})
    assert r.status_code == 201
    again = web.get(link + "?lang=en")
    assert again.status_code == 410 and "could be used once and already was" in again.text
