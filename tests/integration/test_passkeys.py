"""Passkeys as a second factor on the staff pages: registration, sign-in, the refusals
(replayed, wrong or expired challenge, cloned authenticator) answered like a wrong TOTP code
and throttled alike, removal by the owner and the two-admin reset."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient

from portal.auth.models import StaffPasskey, StaffPasskeyChallenge
from portal.config import Settings
from tests.support.api import runtime
from tests.support.custody import events, log_size, of_type
from tests.support.passkeys import (
    SoftAuthenticator,
    b64,
    login_options,
    register,
    sign_in,
    with_passkey,
)
from tests.support.second_factor import Clock, enrol, enrolled_login, frozen_clock, make_user
from tests.support.web import csrf_of, web_app

pytestmark = pytest.mark.both_backends
HTTPS = "https://testserver"
ALERT = re.compile(r'<p class="alert" role="alert">([^<]+)</p>')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"login_max_failures": 3})


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


@pytest.fixture
def clock(web: TestClient) -> Clock:
    return frozen_clock(web)


def browser(web: TestClient) -> TestClient:
    return TestClient(web.app, base_url=HTTPS)


def key() -> SoftAuthenticator:
    return SoftAuthenticator(HTTPS, "testserver")


def enrolled(web: TestClient, name: str) -> tuple[str, SoftAuthenticator]:
    """An investigator signed in by password alone who then registers a passkey."""
    user_id = make_user(web, name, "investigator")
    desk = browser(web)
    assert sign_in(desk, name).status_code == 303
    passkey = key()
    assert register(desk, passkey).status_code == 303
    return user_id, passkey


def failures(web: TestClient, name: str) -> int:
    from portal.auth import service

    with runtime(web).sessions() as db:
        return service.find_user(db, name=name).failed_logins


def test_register_then_sign_in_with_password_and_passkey(web: TestClient, clock: Clock) -> None:
    user_id = make_user(web, "ines", "investigator")
    desk = browser(web)
    assert sign_in(desk, "ines").status_code == 303
    assert "Aún no tiene llaves de acceso" in desk.get("/web/staff/passkeys").text
    passkey = key()
    r = register(desk, passkey, name="portátil")
    assert r.status_code == 303 and r.headers["location"] == "/web/staff/passkeys"
    page = desk.get("/web/staff/passkeys?lang=en")
    assert "portátil" in page.text and "Passkeys" in page.text
    (added,) = of_type(web, "staff.second_factor_enrolled", user_id)
    assert added["details"]["method"] == "passkey"
    with runtime(web).sessions() as db:
        assert db.query(StaffPasskeyChallenge).count() == 0, "the challenge was used up"
    # Now the passkey binds: the password alone is refused like a wrong code.
    assert sign_in(browser(web), "ines").status_code == 401
    r = with_passkey(browser(web), "ines", passkey)
    assert r.status_code == 303, r.text
    login = of_type(web, "staff.login", user_id)[-1]
    assert login["details"]["second_factor"] == "passkey"


def test_bad_assertions_get_the_wrong_code_answer_and_are_throttled(
    web: TestClient, clock: Clock
) -> None:
    _, passkey = enrolled(web, "ines")
    secret, _ = enrol(web, "ines", clock)  # TOTP beside it
    clock.step()
    wrong_code = sign_in(browser(web), "ines", code="000000")
    assert wrong_code.status_code == 401
    expected = ALERT.findall(wrong_code.text)
    assert expected
    clock.step(2)

    desk = browser(web)
    options = login_options(desk)
    assertion = passkey.get(options)
    assert sign_in(desk, "ines", passkey=assertion).status_code == 303
    clock.step(2)
    before = log_size(web)
    replayed = sign_in(desk, "ines", passkey=assertion)
    made_up = with_passkey(browser(web), "ines", passkey, challenge=b64(b"not ours" * 4))
    assert (replayed.status_code, made_up.status_code) == (401, 401)
    assert ALERT.findall(replayed.text) == ALERT.findall(made_up.text) == expected
    logged = [e for e in events(web, before) if e["type"] == "staff.second_factor_failed"]
    assert [e["details"]["reason"] for e in logged] == ["bad_second_factor"] * 2
    assert failures(web, "ines") == 2
    # A third failure (an expired challenge): each further try must wait, the right one too.
    stale = login_options(browser(web))
    clock.step(6 * 60)
    assert sign_in(browser(web), "ines", passkey=passkey.get(stale)).status_code == 401
    assert failures(web, "ines") == 3
    assert with_passkey(browser(web), "ines", passkey).status_code == 401
    clock.step(2)
    assert with_passkey(browser(web), "ines", passkey).status_code == 303
    assert sign_in(browser(web), "ines", code=pyotp.TOTP(secret).at(clock.now)).status_code == 303


def test_a_cloned_authenticator_is_refused_and_logged(web: TestClient, clock: Clock) -> None:
    user_id, passkey = enrolled(web, "ines")
    assert with_passkey(browser(web), "ines", passkey).status_code == 303
    assert with_passkey(browser(web), "ines", passkey).status_code == 303
    clone = passkey.counter
    r = sign_in(browser(web), "ines", passkey=passkey.get(login_options(browser(web)), counter=1))
    assert r.status_code == 401
    (failed,) = of_type(web, "staff.second_factor_failed", user_id)
    assert failed["details"]["reason"] == "passkey_sign_count"
    with runtime(web).sessions() as db:
        assert db.query(StaffPasskey).one().sign_count == clone


def test_bad_registrations_change_nothing(web: TestClient, clock: Clock) -> None:
    make_user(web, "ines", "investigator")
    desk = browser(web)
    assert sign_in(desk, "ines").status_code == 303
    csrf = csrf_of(desk, "/web/staff/passkeys")
    before = log_size(web)
    cases = [
        {"csrf": csrf, "credential": "not json"},
        {"csrf": csrf, "credential": "{}"},
        {
            "csrf": csrf,
            "credential": key().create({"challenge": b64(bytes(32)), "user": {"id": ""}}),
        },
    ]
    for data in cases:
        r = desk.post("/web/staff/passkeys", data=data, follow_redirects=False)
        assert r.status_code == 422, r.text
    r = desk.post("/web/staff/passkeys/options", data={}, follow_redirects=False)
    assert r.status_code == 403, "no CSRF token"
    # Another origin (a look-alike site) answering our challenge.
    phish = SoftAuthenticator("https://testserver.evil", "testserver")
    assert register(desk, phish).status_code == 422
    assert log_size(web) == before
    with runtime(web).sessions() as db:
        assert db.query(StaffPasskey).count() == 0
        assert db.query(StaffPasskeyChallenge).count() == 0, "a refused answer spends it too"


def test_owner_removes_a_passkey_and_nobody_else_can(web: TestClient, clock: Clock) -> None:
    user_id, passkey = enrolled(web, "ines")
    with runtime(web).sessions() as db:
        passkey_id = db.query(StaffPasskey).one().id
    make_user(web, "ivan", "investigator")
    other = browser(web)
    assert sign_in(other, "ivan").status_code == 303
    csrf = csrf_of(other, "/web/staff/passkeys")
    before = log_size(web)
    r = other.post(f"/web/staff/passkeys/{passkey_id}/remove", data={"csrf": csrf})
    assert r.status_code == 404
    assert log_size(web) == before
    # Someone else's authenticator (not registered to her) does not pass either.
    assert with_passkey(browser(web), "ines", key()).status_code == 401
    owner = browser(web)
    assert with_passkey(owner, "ines", passkey).status_code == 303
    csrf = csrf_of(owner, "/web/staff/passkeys")
    r = owner.post(
        f"/web/staff/passkeys/{passkey_id}/remove", data={"csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    (removed,) = of_type(web, "staff.passkey_removed", user_id)
    assert removed["details"] == {"passkey": passkey_id}
    assert sign_in(browser(web), "ines").status_code == 303, "the password alone again"


def test_an_admin_reset_of_passkeys_needs_a_second_admin(web: TestClient, clock: Clock) -> None:
    first, _ = enrolled_login(web, clock, "admin", "ana")
    second, _ = enrolled_login(web, clock, "admin", "berta")
    target_id, _ = enrolled(web, "ines")
    r = web.post(f"/api/v1/users/{target_id}/second-factor/reset", headers=first)
    assert r.status_code == 202, r.text
    request = r.json()
    assert request["old"] == {"second_factor": None, "passkeys": 1}
    assert sign_in(browser(web), "ines").status_code == 401, "not yet applied"
    r = web.post(f"/api/v1/changes/{request['id']}/confirm", headers=second)
    assert r.status_code == 200, r.text
    (removed,) = of_type(web, "staff.passkey_removed", target_id)
    assert removed["details"]["change_request"] == request["id"]
    assert sign_in(browser(web), "ines").status_code == 303, "the password alone again"
    with runtime(web).sessions() as db:
        assert db.query(StaffPasskey).count() == 0
