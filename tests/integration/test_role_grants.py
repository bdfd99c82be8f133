"""Granting the supervisor or admin role needs a second admin (issue 14, item 3: "One admin can
create two supervisor accounts and approve twice"). A confirmation applies only what the custody
log says was asked; concurrent decisions on one request cannot both pass."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from portal.changes.models import ChangeRequest
from portal.cli import app as cli_app
from portal.db import transaction
from tests.support.api import PASSWORD, runtime, staff_login
from tests.support.custody import events, log_size, of_type

pytestmark = pytest.mark.both_backends

USERS = "/api/v1/users"


def account(name: str, role: str) -> dict[str, str]:
    return {"name": name, "role": role, "password": PASSWORD}


def can_login(client: TestClient, name: str) -> bool:
    r = client.post("/api/v1/auth/login", data={"username": name, "password": PASSWORD})
    assert r.status_code in (200, 401), r.text
    return bool(r.status_code == 200)


def confirm(client: TestClient, auth: dict[str, str], request_id: str) -> Any:
    return client.post(f"/api/v1/changes/{request_id}/confirm", headers=auth)


def user_row(client: TestClient, admin: dict[str, str], user_id: str) -> dict[str, Any]:
    (found,) = [u for u in client.get(USERS, headers=admin).json() if u["id"] == user_id]
    return dict(found)


def test_one_admin_cannot_make_two_approvers(client: TestClient) -> None:
    """The reproduction: one admin creates two supervisor accounts. Both wait, unable to sign
    in or approve, until a different admin confirms each."""
    admin = staff_login(client, "admin")
    requests = []
    for name in ("sup-a", "sup-b"):
        r = client.post(USERS, json=account(name, "supervisor"), headers=admin)
        assert r.status_code == 202, r.text
        req = r.json()
        assert (req["kind"], req["state"], req["new"]) == (
            "role",
            "pending",
            {"role": "supervisor"},
        )
        assert req["old"] == {"role": None, "disabled": False}
        assert user_row(client, admin, req["target"])["pending"] is True
        assert not can_login(client, name)
        requests.append(req)
    # The author may not confirm, nor may a supervisor (grants are for admins).
    r = confirm(client, admin, requests[0]["id"])
    assert r.status_code == 409 and r.json()["error"] == "own_request"
    sup = staff_login(client, "supervisor", "sup-old")
    r = confirm(client, sup, requests[0]["id"])
    assert r.status_code == 403 and r.json()["error"] == "wrong_confirmer"
    assert of_type(client, "staff.role_changed") == []

    second = staff_login(client, "admin", "admin-2")
    r = confirm(client, second, requests[0]["id"])
    assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
    assert can_login(client, "sup-a") and not can_login(client, "sup-b")
    (changed,) = of_type(client, "staff.role_changed", requests[0]["target"])
    assert changed["details"] == {"name": "sup-a", "from": None, "to": "supervisor"}
    # Neither the request nor the log carries the password or its hash.
    logged = json.dumps(events(client))
    assert PASSWORD not in logged and "argon2" not in logged


def test_granting_a_role_to_an_existing_account(client: TestClient) -> None:
    admin = staff_login(client, "admin")
    second = staff_login(client, "admin", "admin-2")
    r = client.post(USERS, json=account("ivan", "investigator"), headers=admin)
    assert r.status_code == 201
    ivan = r.json()["id"]
    # Other roles apply at once.
    r = client.post(f"{USERS}/{ivan}/role", json={"role": "auditor"}, headers=admin)
    assert r.status_code == 200 and r.json()["role"] == "auditor", r.text
    (changed,) = of_type(client, "staff.role_changed", ivan)
    assert changed["details"] == {"name": "ivan", "from": "investigator", "to": "auditor"}
    # Supervisor waits; the account keeps its role meanwhile.
    r = client.post(f"{USERS}/{ivan}/role", json={"role": "supervisor"}, headers=admin)
    assert r.status_code == 202, r.text
    req = r.json()
    assert req["old"] == {"role": "auditor", "disabled": False}
    assert user_row(client, admin, ivan)["role"] == "auditor"
    assert confirm(client, second, req["id"]).status_code == 200
    assert user_row(client, admin, ivan)["role"] == "supervisor"


def test_nobody_confirms_a_grant_for_their_own_account(client: TestClient) -> None:
    admin = staff_login(client, "admin")
    second = staff_login(client, "admin", "admin-2")
    second_id = client.get("/api/v1/auth/me", headers=second).json()["id"]
    r = client.post(f"{USERS}/{second_id}/role", json={"role": "supervisor"}, headers=admin)
    assert r.status_code == 202
    r = confirm(client, second, r.json()["id"])
    assert r.status_code == 409 and r.json()["error"] == "own_request"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"role": "root"}, 422, "invalid"),
        ({"role": "supervisor", "extra": 1}, 422, "invalid"),
        ({}, 422, "invalid"),
    ],
)
def test_bad_role_changes_change_nothing(
    client: TestClient, body: dict[str, Any], status: int, error: str
) -> None:
    admin = staff_login(client, "admin")
    ivan = client.post(USERS, json=account("ivan", "investigator"), headers=admin).json()["id"]
    before = log_size(client)
    r = client.post(f"{USERS}/{ivan}/role", json=body, headers=admin)
    assert r.status_code == status and r.json()["error"] == error, r.text
    assert log_size(client) == before


def test_role_changes_refused_by_state_change_nothing(client: TestClient) -> None:
    admin = staff_login(client, "admin")
    ivan = client.post(USERS, json=account("ivan", "investigator"), headers=admin).json()["id"]
    pend = client.post(USERS, json=account("pend", "supervisor"), headers=admin).json()["target"]
    gone = client.post(USERS, json=account("gone", "investigator"), headers=admin).json()["id"]
    assert client.post(f"{USERS}/{gone}/disable", headers=admin).status_code == 200
    sup = staff_login(client, "supervisor")
    before = log_size(client)
    cases = [
        (ivan, "investigator", 409, "no_change"),
        (pend, "auditor", 409, "account_pending"),
        (gone, "supervisor", 409, "account_disabled"),
        ("no-such-user", "auditor", 404, "not_found"),
    ]
    for user_id, role, status, error in cases:
        r = client.post(f"{USERS}/{user_id}/role", json={"role": role}, headers=admin)
        assert (r.status_code, r.json()["error"]) == (status, error), (user_id, r.text)
    r = client.post(f"{USERS}/{ivan}/role", json={"role": "auditor"}, headers=sup)
    assert r.status_code == 403
    assert log_size(client) == before


def test_a_grant_over_an_account_disabled_since_is_stale(client: TestClient) -> None:
    admin = staff_login(client, "admin")
    second = staff_login(client, "admin", "admin-2")
    ivan = client.post(USERS, json=account("ivan", "investigator"), headers=admin).json()["id"]
    req = client.post(f"{USERS}/{ivan}/role", json={"role": "admin"}, headers=admin).json()
    assert client.post(f"{USERS}/{ivan}/disable", headers=admin).status_code == 200
    r = confirm(client, second, req["id"])
    assert r.status_code == 409 and r.json()["error"] == "request_stale"
    assert user_row(client, admin, ivan)["role"] == "investigator"
    assert of_type(client, "change.confirmed") == []


def test_a_request_edited_in_the_database_is_refused(client: TestClient) -> None:
    """A pending request's `new` rewritten in the database (supervisor -> admin) must not be
    applied: the confirmation compares the row with its `change.requested` event."""
    admin = staff_login(client, "admin")
    second = staff_login(client, "admin", "admin-2")
    req = client.post(USERS, json=account("sup", "supervisor"), headers=admin).json()
    rt = runtime(client)
    with transaction(rt.sessions) as db:
        db.execute(
            update(ChangeRequest).where(ChangeRequest.id == req["id"]).values(new={"role": "admin"})
        )
    before = log_size(client)
    r = confirm(client, second, req["id"])
    assert r.status_code == 409 and r.json()["error"] == "request_altered", r.text
    assert log_size(client) == before
    assert user_row(client, admin, req["target"])["pending"] is True
    assert not can_login(client, "sup")


def race(client: TestClient, calls: list[tuple[str, dict[str, str]]]) -> list[int]:
    """POST every call at once (threads released together); their statuses."""
    results: list[int] = []
    barrier = threading.Barrier(len(calls))

    def call(path: str, auth: dict[str, str]) -> None:
        barrier.wait()
        results.append(client.post(path, headers=auth).status_code)

    threads = [threading.Thread(target=call, args=c) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_withdrawals_of_one_request_one_passes(client: TestClient) -> None:
    """Two withdrawals (or a withdrawal and a confirmation) of one request race: the row lock
    lets exactly one decide it, on both databases."""
    admin = staff_login(client, "admin")
    second = staff_login(client, "admin", "admin-2")
    for rounds in range(3):
        req = client.post(USERS, json=account(f"s{rounds}", "supervisor"), headers=admin).json()
        calls = [
            (f"/api/v1/changes/{req['id']}/withdraw", admin),
            (f"/api/v1/changes/{req['id']}/withdraw", admin),
            (f"/api/v1/changes/{req['id']}/confirm", second),
        ]
        results = race(client, calls)
        assert sorted(results)[0] == 200 and sorted(results)[1:] == [409, 409], results
        decided = [
            e
            for e in events(client)
            if e["subject"] == req["id"] and e["type"] in ("change.withdrawn", "change.confirmed")
        ]
        assert len(decided) == 1


@pytest.mark.local_only  # the command line opens the embedded default in the data folder
def test_cli_first_admin_at_once_later_grants_wait(client: TestClient, settings: Any) -> None:
    runner = CliRunner()
    d = str(settings.data_dir)

    def add(name: str, role: str) -> str:
        r = runner.invoke(
            cli_app, ["users", "add", name, "--role", role, "--data-dir", d], input=PASSWORD
        )
        assert r.exit_code == 0, r.output
        return r.output

    assert "created admin root" in add("root", "admin")
    out = add("boss", "supervisor")
    assert "pending" in out and "/api/v1/changes/" in out
    out = add("root-2", "admin")
    assert "pending" in out
    assert can_login(client, "root")
    assert not can_login(client, "boss") and not can_login(client, "root-2")
    root = client.post("/api/v1/auth/login", data={"username": "root", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {root.json()['access_token']}"}
    pending = client.get("/api/v1/changes", headers=auth).json()
    assert {p["requested_by"] for p in pending} == {"system"}
    (boss,) = [p for p in pending if p["new"] == {"role": "supervisor"}]
    assert confirm(client, auth, boss["id"]).status_code == 200
    assert can_login(client, "boss")
