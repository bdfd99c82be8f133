"""An admin asks, on the staff accounts page, to reset someone's second factor; a second admin
confirms it on the change requests page (the two-admin rule of /api/v1, through the pages)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from portal.config import Settings
from tests.support.api import PASSWORD
from tests.support.custody import log_size, of_type
from tests.support.second_factor import enrol, frozen_clock, login, make_user
from tests.support.web import csrf_of, web_app

HTTPS = "https://testserver"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Only the target binds itself (by enrolling); the admins sign in with a password here.
    return settings.model_copy(update={"second_factor_roles": ""})


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


def signed_in(web: TestClient, role: str, name: str) -> TestClient:
    make_user(web, name, role)
    browser = TestClient(web.app, base_url=HTTPS)
    csrf = csrf_of(browser, "/web/staff/login")
    r = browser.post(
        "/web/staff/login",
        data={"csrf": csrf, "username": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return browser


def test_a_reset_is_asked_on_one_page_and_confirmed_by_another_admin(web: TestClient) -> None:
    clock = frozen_clock(web)
    ana, berta = signed_in(web, "admin", "ana"), signed_in(web, "admin", "berta")
    maria_id = make_user(web, "maria", "supervisor")
    enrol(web, "maria", clock)
    page = ana.get("/web/staff/users?lang=es")
    assert f'action="/web/staff/users/{maria_id}/second-factor/reset"' in page.text
    assert "Pedir que se quite" in page.text and "Segundo factor" in page.text
    assert "Ask to remove it" in ana.get("/web/staff/users?lang=en").text
    action = f"/web/staff/users/{maria_id}/second-factor/reset"
    csrf = csrf_of(ana, "/web/staff/users")
    before = log_size(web)
    assert ana.post(action, data={"confirm": "yes"}, follow_redirects=False).status_code == 403
    r = ana.post(action, data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 422, "the box was not ticked"
    assert log_size(web) == before
    r = ana.post(action, data={"csrf": csrf, "confirm": "yes"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/web/staff/changes"
    (asked,) = of_type(web, "change.requested")
    # The author may only withdraw it; the second admin is offered the confirmation.
    own = ana.get("/web/staff/changes?lang=en").text
    assert "/confirm" not in own and "/withdraw" in own
    other = berta.get("/web/staff/changes?lang=en").text
    (request_id,) = re.findall(r'action="/web/staff/changes/([0-9a-f]{32})/confirm"', other)
    assert "maria" in other
    clock.step()
    assert login(web, "maria").status_code == 401, "still in force until confirmed"
    csrf = csrf_of(berta, "/web/staff/changes")
    r = berta.post(
        f"/web/staff/changes/{request_id}/confirm",
        data={"csrf": csrf, "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (reset,) = of_type(web, "staff.second_factor_reset", maria_id)
    assert reset["details"]["change_request"] == request_id == asked["subject"]
    assert login(web, "maria").status_code == 200, "the password alone again (optional here)"
    assert (
        f'action="/web/staff/users/{maria_id}/second-factor/reset"'
        not in ana.get("/web/staff/users").text
    )


def test_only_admins_ask_and_only_for_an_enrolled_account(web: TestClient) -> None:
    frozen_clock(web)
    ana = signed_in(web, "admin", "ana")
    sara = signed_in(web, "supervisor", "sara")
    ines_id = make_user(web, "ines", "investigator")
    before = log_size(web)
    action = f"/web/staff/users/{ines_id}/second-factor/reset"
    csrf = csrf_of(sara, "/web/staff/users")
    r = sara.post(action, data={"csrf": csrf, "confirm": "yes"}, follow_redirects=False)
    assert r.status_code == 403
    csrf = csrf_of(ana, "/web/staff/users")
    r = ana.post(action, data={"csrf": csrf, "confirm": "yes"}, follow_redirects=False)
    assert r.status_code == 409, "no second factor to reset"
    r = ana.post(
        "/web/staff/users/" + "0" * 32 + "/second-factor/reset",
        data={"csrf": csrf, "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert log_size(web) == before
