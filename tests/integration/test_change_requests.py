"""The two-person rule: lowering or shortening a retention policy and downgrading a case's
offence class are requests until a second, different supervisor confirms them; raising or
lengthening applies at once. Every step is a custody event; every refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import PASSWORD, runtime, staff_login
from tests.support.retention import (
    T0,
    Clock,
    close,
    events,
    item,
    link,
    new_case,
    new_witness,
    send,
    until_of,
)

pytestmark = pytest.mark.both_backends

DAY = timedelta(days=1)
POLICIES = "/api/v1/retention/policies"


def login(client: TestClient, name: str) -> dict[str, str]:
    """A fresh session (moving the clock days ahead ends the fixtures' sessions)."""
    r = client.post("/api/v1/auth/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def policy(client: TestClient, auth: dict[str, str], category: str) -> dict[str, Any]:
    found = client.get(POLICIES, headers=auth).json()
    return dict(next(p for p in found if p["category"] == category))


def lower_no_case(client: TestClient, auth: dict[str, str]) -> str:
    body = {"keep_days": 730, "trigger": "triage", "approvals_required": 0}
    r = client.put(f"{POLICIES}/no-case", json=body, headers=auth)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def closed_homicide(client: TestClient, sup: dict[str, str], data: bytes) -> tuple[str, str]:
    ev = send(client, new_witness(client), data)
    case = new_case(client, sup, offense="homicide")
    link(client, sup, case, ev)
    close(client, sup, case)
    return ev, case


def test_one_supervisor_shortening_homicide_only_asks(
    client: TestClient, clock: Clock, sup: dict[str, str], sup2: dict[str, str], clip: bytes
) -> None:
    """Issue 14, item 3: `keep_days: 1` on homicide was accepted from one supervisor and the
    next sweep destroyed a closed homicide case's evidence."""
    ev, _ = closed_homicide(client, sup, clip + b"-homicide")
    before = policy(client, sup, "homicide")
    body = {"keep_days": 1, "trigger": "case_closure", "approvals_required": 2}
    r = client.put(f"{POLICIES}/homicide", json=body, headers=sup)
    assert r.status_code == 202, r.text
    req = r.json()
    assert (req["kind"], req["target"], req["state"]) == ("policy", "homicide", "pending")
    assert req["new"] == body and req["old"]["keep_days"] is None
    assert policy(client, sup, "homicide") == before
    assert until_of(client, ev) is None
    assert events(client, "policy.changed") == []
    logged = events(client, "change.requested", req["id"])
    assert [e["details"]["new"] for e in logged] == [body]

    clock.now = T0 + 2 * DAY  # past the requested keep, within the request's life
    report = runtime(client).run_retention()
    assert report.destroyed == [] and item(client, ev).disposition is None
    sup, sup2 = login(client, "sara"), login(client, "sven")

    listed = client.get("/api/v1/changes", headers=sup2)
    assert listed.status_code == 200, listed.text
    listed = listed.json()
    assert [x["id"] for x in listed] == [req["id"]]
    done = client.post(f"/api/v1/changes/{req['id']}/confirm", headers=sup2)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "confirmed"
    assert policy(client, sup, "homicide")["keep_days"] == 1
    assert until_of(client, ev) == T0 + DAY
    kinds = [e["type"] for e in events(client) if e["type"].startswith(("change.", "policy."))]
    assert kinds[-2:] == ["change.confirmed", "policy.changed"]
    assert client.get("/api/v1/changes", headers=sup2).json() == []


def test_raising_or_lengthening_applies_at_once(client: TestClient, sup: dict[str, str]) -> None:
    body = {"keep_days": 900, "trigger": "triage", "approvals_required": 2}
    r = client.put(f"{POLICIES}/no-case", json=body, headers=sup)
    assert r.status_code == 200, r.text
    assert (r.json()["keep_days"], r.json()["approvals_required"]) == (900, 2)
    assert events(client, "change.requested") == []
    # Indefinitely is the longest keep of all.
    r = client.put(f"{POLICIES}/no-case", json={**body, "keep_days": None}, headers=sup)
    assert r.status_code == 200 and r.json()["keep_days"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"keep_days": 730, "trigger": "triage", "approvals_required": 0},  # fewer approvals
        {"keep_days": 700, "trigger": "triage", "approvals_required": 1},  # shorter
        {"keep_days": 730, "trigger": "receipt", "approvals_required": 1},  # another clock
    ],
)
def test_every_weakening_is_a_request(
    client: TestClient, sup: dict[str, str], body: dict[str, Any]
) -> None:
    before = policy(client, sup, "no-case")
    r = client.put(f"{POLICIES}/no-case", json=body, headers=sup)
    assert r.status_code == 202, r.text
    assert policy(client, sup, "no-case") == before


def test_the_author_cannot_confirm_and_others_cannot_withdraw(
    client: TestClient, clock: Clock, sup: dict[str, str], sup2: dict[str, str]
) -> None:
    request_id = lower_no_case(client, sup)
    inv = staff_login(client, "investigator", name="ivan")
    admin = staff_login(client, "admin", name="ada")
    before, size = policy(client, sup, "no-case"), len(events(client))
    refusals = [
        (sup, "confirm", 409, "own_request"),
        (inv, "confirm", 403, "forbidden"),
        (admin, "confirm", 403, "wrong_confirmer"),
        (sup2, "withdraw", 409, "not_author"),
        (inv, "withdraw", 409, "not_author"),
    ]
    for auth, step, status, code in refusals:
        r = client.post(f"/api/v1/changes/{request_id}/{step}", headers=auth)
        assert (r.status_code, r.json()["error"]) == (status, code), (step, r.text)
        assert r.json()["message"]
    assert policy(client, sup, "no-case") == before and len(events(client)) == size
    assert [x["state"] for x in client.get("/api/v1/changes", headers=sup).json()] == ["pending"]

    r = client.post(f"/api/v1/changes/{request_id}/withdraw", headers=sup)
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert len(events(client, "change.withdrawn", request_id)) == 1
    size = len(events(client))
    for auth, step in ((sup2, "confirm"), (sup, "withdraw")):
        again = client.post(f"/api/v1/changes/{request_id}/{step}", headers=auth)
        assert (again.status_code, again.json()["error"]) == (409, "request_decided")
    assert policy(client, sup, "no-case") == before and len(events(client)) == size


def test_unknown_requests_are_not_found(client: TestClient, sup: dict[str, str]) -> None:
    size = len(events(client))
    for step in ("confirm", "withdraw"):
        r = client.post(f"/api/v1/changes/nonesuch/{step}", headers=sup)
        assert (r.status_code, r.json()["error"]) == (404, "not_found")
    assert len(events(client)) == size


def test_stale_requests_expire_and_the_expiry_is_logged(
    client: TestClient, clock: Clock, sup: dict[str, str], sup2: dict[str, str]
) -> None:
    request_id = lower_no_case(client, sup)
    ttl = runtime(client).settings.change_request_ttl
    clock.now = T0 + ttl - timedelta(seconds=1)
    sup, sup2 = login(client, "sara"), login(client, "sven")
    assert len(client.get("/api/v1/changes", headers=sup2).json()) == 1
    clock.now = T0 + ttl
    sup, sup2 = login(client, "sara"), login(client, "sven")
    r = client.post(f"/api/v1/changes/{request_id}/confirm", headers=sup2)
    assert (r.status_code, r.json()["error"]) == (409, "request_decided")
    assert "expired" in r.json()["message"]
    expired = events(client, "change.expired", request_id)
    assert len(expired) == 1 and expired[0]["actor"] == "system"
    assert client.get("/api/v1/changes", headers=sup2).json() == []
    assert len(events(client, "change.expired")) == 1  # logged once
    assert policy(client, sup, "no-case")["approvals_required"] == 1


def test_downgrading_the_offence_at_closure_waits_for_a_second_supervisor(
    client: TestClient, clock: Clock, sup: dict[str, str], sup2: dict[str, str], clip: bytes
) -> None:
    """Issue 14, item 3: an investigator closed a homicide as a misdemeanour, and its evidence
    was kept 3 years with one approval instead of indefinitely with two."""
    inv = staff_login(client, "investigator", name="ivan")
    ev = send(client, new_witness(client), clip + b"-downgrade")
    case = new_case(client, inv, offense="homicide")
    link(client, inv, case, ev)
    r = client.post(f"/api/v1/cases/{case}/close", json={"offense": "misdemeanor"}, headers=inv)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["offense"]) == ("closed", "homicide")
    request_id = r.json()["offense_request"]
    assert item(client, ev).retention_category == "homicide" and until_of(client, ev) is None
    assert events(client, "case.closed", case)[0]["details"] == {"offense": "homicide"}
    requested = events(client, "change.requested", request_id)[0]["details"]
    assert (requested["kind"], requested["target"]) == ("offense", case)
    assert (requested["old"], requested["new"]) == (
        {"offense": "homicide"},
        {"offense": "misdemeanor"},
    )

    r = client.post(f"/api/v1/changes/{request_id}/confirm", headers=sup)
    assert r.status_code == 200, r.text
    assert item(client, ev).retention_category == "case-closed-misdemeanor"
    assert until_of(client, ev) == T0 + 3 * 365 * DAY
    cases = {c["id"]: c for c in client.get("/api/v1/cases", headers=sup2).json()}
    assert cases[case]["offense"] == "misdemeanor"
    assert len(events(client, "change.confirmed", request_id)) == 1


def test_an_investigator_sees_and_withdraws_their_own_downgrade(
    client: TestClient, sup: dict[str, str]
) -> None:
    inv = staff_login(client, "investigator", name="ivan")
    case = new_case(client, inv, offense="felony")
    r = client.post(f"/api/v1/cases/{case}/close", json={"offense": "misdemeanor"}, headers=inv)
    request_id = r.json()["offense_request"]
    assert [x["id"] for x in client.get("/api/v1/changes", headers=inv).json()] == [request_id]
    r = client.post(f"/api/v1/changes/{request_id}/withdraw", headers=inv)
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    cases = {c["id"]: c for c in client.get("/api/v1/cases", headers=sup).json()}
    assert (cases[case]["status"], cases[case]["offense"]) == ("closed", "felony")


def test_upgrading_the_offence_at_closure_applies_at_once(
    client: TestClient, sup: dict[str, str]
) -> None:
    case = new_case(client, sup, offense="felony")
    r = client.post(f"/api/v1/cases/{case}/close", json={"offense": "homicide"}, headers=sup)
    assert r.status_code == 200 and r.json()["offense"] == "homicide"
    assert "offense_request" not in r.json()
    assert events(client, "change.requested") == []


def test_a_request_over_a_rule_that_changed_since_is_stale(
    client: TestClient, clock: Clock, sup: dict[str, str], sup2: dict[str, str]
) -> None:
    """Confirming applies `new` over `old`: after the rule moved, that change was never
    reviewed, so the confirmation is refused and nothing changes."""
    request_id = lower_no_case(client, sup)
    body = {"keep_days": 900, "trigger": "triage", "approvals_required": 2}
    assert client.put(f"{POLICIES}/no-case", json=body, headers=sup2).status_code == 200
    before, size = policy(client, sup, "no-case"), len(events(client))
    r = client.post(f"/api/v1/changes/{request_id}/confirm", headers=sup2)
    assert (r.status_code, r.json()["error"]) == (409, "request_stale"), r.text
    assert r.json()["message"]
    assert policy(client, sup, "no-case") == before and len(events(client)) == size
    assert [x["state"] for x in client.get("/api/v1/changes", headers=sup).json()] == ["pending"]
