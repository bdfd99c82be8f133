"""TOTP second factor: enrolment, sign-in, recovery codes, throttling and the two-admin reset."""

from __future__ import annotations

import json

import pyotp
import pytest
from fastapi.testclient import TestClient

from portal.auth.models import ROLES
from portal.config import STAFF_ROLES, Settings
from tests.support.api import PASSWORD
from tests.support.custody import events, log_size, of_type
from tests.support.second_factor import (
    Clock,
    enrol,
    enrolled_login,
    frozen_clock,
    login,
    make_user,
)

pytestmark = pytest.mark.both_backends


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The production default, which the other suites turn off.
    return settings.model_copy(
        update={"second_factor_roles": "supervisor,admin", "login_max_failures": 3}
    )


@pytest.fixture
def clock(client: TestClient) -> Clock:
    return frozen_clock(client)


def test_supervisor_without_a_second_factor_is_told_to_enrol(
    client: TestClient, clock: Clock
) -> None:
    user_id = make_user(client, "maria", "supervisor")
    before = log_size(client)
    r = login(client, "maria")
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "second_factor_required"
    assert [e["type"] for e in events(client, before)] == ["staff.login_failed"]
    assert of_type(client, "staff.login_failed", user_id)[0]["details"] == {
        "reason": "second_factor_not_enrolled"
    }
    # A wrong password still gets the common answer: the enrol hint needs the password.
    assert login(client, "maria", "not the right password").json()["error"] == "bad_credentials"
    # An investigator is not bound by the default.
    make_user(client, "ines", "investigator")
    assert login(client, "ines").status_code == 200


def test_enrolment_and_sign_in_with_totp(client: TestClient, clock: Clock) -> None:
    user_id = make_user(client, "maria", "supervisor")
    r = client.post("/api/v1/auth/second-factor", data={"username": "maria", "password": "nope"})
    assert r.status_code == 401 and r.json()["error"] == "bad_credentials"
    r = client.post("/api/v1/auth/second-factor", data={"username": "maria", "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    secret = body["secret"]
    assert body["otpauth_uri"].startswith("otpauth://totp/Portal:maria?secret=" + secret)
    assert body["qr_svg"].startswith("<svg")
    # Not in force before its first code: the password alone is still told to enrol.
    assert login(client, "maria").status_code == 403
    before = log_size(client)
    confirm = {"username": "maria", "password": PASSWORD, "code": "000000"}
    r = client.post("/api/v1/auth/second-factor/confirm", data=confirm)
    assert r.status_code == 401 and r.json()["error"] == "bad_credentials"
    r = client.post("/api/v1/auth/second-factor/confirm", data={**confirm, "code": "ñ" * 6})
    assert r.status_code == 401 and r.json()["error"] == "bad_credentials"
    assert [e["type"] for e in events(client, before)] == ["staff.second_factor_failed"] * 2
    clock.step(2)  # three failures in a row (the first, a wrong password): a one-second wait
    _, codes = enrol(client, "maria", clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    (enrolled,) = of_type(client, "staff.second_factor_enrolled", user_id)
    assert enrolled["details"] == {"method": "totp", "recovery_codes": 10}
    log = json.dumps(events(client))
    assert secret not in log and not any(c in log for c in codes)
    # Enrolled: a second enrolment is refused, and changes nothing.
    r = client.post("/api/v1/auth/second-factor", data={"username": "maria", "password": PASSWORD})
    assert r.status_code == 409 and r.json()["error"] == "second_factor_enrolled"


def test_wrong_missing_and_replayed_codes_get_the_password_answer(
    client: TestClient, clock: Clock
) -> None:
    user_id = make_user(client, "maria", "admin")
    secret, _ = enrol(client, "maria", clock)
    totp = pyotp.TOTP(secret)
    wrong_password = login(client, "maria", "not the right password")
    spent = totp.at(clock.now)  # at enrolment
    answers = [
        login(client, "maria"),  # no code
        login(client, "maria", code="123456" if spent != "123456" else "654321"),
    ]
    clock.step(2)  # past the first throttling wait (three failures in a row)
    answers.append(login(client, "maria", code=spent))
    clock.step(4)
    answers.append(login(client, "maria", code="١٢٣٤٥٦"))  # digits, but not ASCII ones
    for r in answers:
        assert r.status_code == 401
        assert r.json() == wrong_password.json()
    failed = of_type(client, "staff.second_factor_failed", user_id)
    assert len(failed) == 4 and all(e["details"] == {"reason": "bad_second_factor"} for e in failed)
    clock.step(120)  # past the throttling wait
    code = totp.at(clock.now)
    r = login(client, "maria", code=code)
    assert r.status_code == 200, r.text
    assert of_type(client, "staff.login", user_id)[-1]["details"]["second_factor"] == "totp"
    assert login(client, "maria", code=code).status_code == 401, "a code is accepted once"


def test_failed_second_factors_count_toward_throttling(client: TestClient, clock: Clock) -> None:
    make_user(client, "maria", "supervisor")
    secret, _ = enrol(client, "maria", clock)
    clock.step()  # a fresh code
    code = pyotp.TOTP(secret).at(clock.now)
    wrong = "999999" if code != "999999" else "888888"
    for _ in range(3):  # login_max_failures: then a one-second wait
        assert login(client, "maria", code=wrong).status_code == 401
    # Inside the wait, even the right code is refused without being tried (nor spent).
    before = log_size(client)
    assert login(client, "maria", code=code).status_code == 401
    assert [e["details"] for e in events(client, before)] == [{"reason": "throttled"}]
    clock.step(1)
    assert login(client, "maria", code=code).status_code == 200


def test_recovery_codes_sign_in_once(client: TestClient, clock: Clock) -> None:
    user_id = make_user(client, "maria", "supervisor")
    _, codes = enrol(client, "maria", clock)
    r = login(client, "maria", code=codes[0].upper())
    assert r.status_code == 200, r.text
    assert of_type(client, "staff.login", user_id)[-1]["details"]["second_factor"] == "recovery"
    r = login(client, "maria", code=codes[0])
    assert r.status_code == 401 and r.json()["error"] == "bad_credentials"
    assert login(client, "maria", code=codes[1].replace("-", "")).status_code == 200


def test_every_role_can_be_required(settings: Settings) -> None:
    assert STAFF_ROLES == ROLES
    assert Settings(second_factor_roles="all").second_factor_roles == ",".join(ROLES)
    assert Settings(second_factor_roles=" ").second_factor_roles == ""
    with pytest.raises(ValueError, match="unknown roles"):
        Settings(second_factor_roles="supervisor,chief")


def test_optional_factor_binds_once_enrolled(client: TestClient, clock: Clock) -> None:
    make_user(client, "ines", "investigator")
    secret, _ = enrol(client, "ines", clock)
    assert login(client, "ines").status_code == 401
    clock.step()
    assert login(client, "ines", code=pyotp.TOTP(secret).at(clock.now)).status_code == 200


def test_a_reset_needs_a_second_admin(client: TestClient, clock: Clock) -> None:
    first, _ = enrolled_login(client, clock, "admin", "ana")
    second, _ = enrolled_login(client, clock, "admin", "berta")
    investigator, _ = enrolled_login(client, clock, "investigator", "ines")
    target_id = make_user(client, "maria", "supervisor")
    r = client.post(f"/api/v1/users/{target_id}/second-factor/reset", headers=first)
    assert r.status_code == 409 and r.json()["error"] == "no_second_factor"
    secret, _ = enrol(client, "maria", clock)
    clock.step()
    session = login(client, "maria", code=pyotp.TOTP(secret).at(clock.now))
    maria = {"Authorization": f"Bearer {session.json()['access_token']}"}
    before = log_size(client)
    r = client.post(f"/api/v1/users/{target_id}/second-factor/reset", headers=investigator)
    assert r.status_code == 403
    assert log_size(client) == before
    r = client.post(f"/api/v1/users/{target_id}/second-factor/reset", headers=first)
    assert r.status_code == 202, r.text
    request = r.json()
    assert (request["kind"], request["state"]) == ("second_factor", "pending")
    # Not yet applied: the factor still binds, and the author cannot confirm alone.
    assert login(client, "maria").status_code == 401
    r = client.post(f"/api/v1/changes/{request['id']}/confirm", headers=first)
    assert r.status_code == 409 and r.json()["error"] == "own_request"
    r = client.post(f"/api/v1/changes/{request['id']}/confirm", headers=second)
    assert r.status_code == 200, r.text
    (reset,) = of_type(client, "staff.second_factor_reset", target_id)
    assert reset["details"] == {"name": "maria", "change_request": request["id"]}
    assert client.get("/api/v1/auth/me", headers=maria).status_code == 401, "sessions end"
    assert login(client, "maria").json()["error"] == "second_factor_required"
    enrol(client, "maria", clock)  # and enrols anew
