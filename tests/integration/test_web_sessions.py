"""The staff page of one's own sessions: listed in words, and the ones left open ended."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from portal.config import Settings
from tests.support.api import PASSWORD
from tests.support.second_factor import make_user
from tests.support.web import csrf_of, web_app

HTTPS = "https://testserver"


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


def signed_in(web: TestClient, name: str) -> TestClient:
    browser = TestClient(web.app, base_url=HTTPS)
    csrf = csrf_of(browser, "/web/staff/login")
    r = browser.post(
        "/web/staff/login",
        data={"csrf": csrf, "username": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return browser


def test_staff_end_a_session_left_open_from_the_page(web: TestClient) -> None:
    make_user(web, "ines", "investigator")
    desk, kiosk = signed_in(web, "ines"), signed_in(web, "ines")
    page = desk.get("/web/staff/sessions")
    assert page.status_code == 200
    assert "Mis sesiones abiertas" in page.text and "esta sesión" in page.text
    ends = re.findall(r'action="/web/staff/sessions/([0-9a-f]{32})/end"', page.text)
    assert len(ends) == 1, "the current session has no end button; the other has"
    assert "My open sessions" in desk.get("/web/staff/sessions?lang=en").text
    csrf = csrf_of(desk, "/web/staff/sessions")
    r = desk.post(f"/web/staff/sessions/{ends[0]}/end", data={}, follow_redirects=False)
    assert r.status_code == 403, "no CSRF token, nothing ended"
    assert kiosk.get("/web/staff/sessions", follow_redirects=False).status_code == 200
    r = desk.post(f"/web/staff/sessions/{ends[0]}/end", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    gone = kiosk.get("/web/staff/sessions", follow_redirects=False)
    assert gone.status_code in (302, 303, 307) and "/web/staff/login" in gone.headers["location"]
    assert desk.get("/web/staff/sessions").status_code == 200
