"""Staff login with lockout, sessions, logout, account management and the settings route."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portal.auth.service import add_user
from portal.clock import utcnow
from portal.config import Settings
from portal.db import transaction
from tests.support.api import PASSWORD, set_clock, staff_login
from tests.support.custody import events, log_size, of_type

pytestmark = pytest.mark.both_backends

WRONG = "not the right password at all"


def make_user(client: TestClient, name: str, role: str = "investigator") -> str:
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    with transaction(rt.sessions) as db:
        return add_user(db, name=name, role=role, password=PASSWORD, now=rt.clock()).id


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/login", data={"username": name, "password": password})


def bearer(r: Any) -> dict[str, str]:
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def freeze(client: TestClient, moment: datetime) -> None:
    set_clock(client, lambda: moment)


def test_login_gives_a_staff_session(client: TestClient, settings: Settings) -> None:
    user_id = make_user(client, "maria", "supervisor")
    now = utcnow()
    freeze(client, now)
    r = login(client, "maria")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["access_token"].startswith("st_")
    assert body["token_type"] == "bearer"
    assert body["role"] == "supervisor"
    assert datetime.fromisoformat(body["expires_at"]) == now + settings.session_ttl
    me = client.get("/api/v1/auth/me", headers=bearer(r)).json()
    assert (me["id"], me["name"], me["role"], me["disabled"]) == (
        user_id,
        "maria",
        "supervisor",
        False,
    )
    (event,) = of_type(client, "staff.login", user_id)
    assert event["actor"] == f"staff:{user_id}:supervisor"
    assert PASSWORD not in json.dumps(events(client))
    # The password form, not JSON.
    r = client.post("/api/v1/auth/login", json={"username": "maria", "password": PASSWORD})
    assert r.status_code == 422


def test_wrong_password_is_refused_and_recorded(client: TestClient) -> None:
    user_id = make_user(client, "maria")
    before = log_size(client)
    r = login(client, "maria", WRONG)
    assert r.status_code == 401
    assert r.json()["error"] == "bad_credentials"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    failed = [e for e in events(client, before) if e["type"] == "staff.login_failed"]
    assert len(failed) == 1, "the failure must be on the record though the request failed"
    assert failed[0]["subject"] == user_id
    assert failed[0]["details"] == {"reason": "bad_password"}
    assert WRONG not in json.dumps(events(client))
    assert of_type(client, "staff.login") == []


def test_unknown_account_looks_like_a_wrong_password(client: TestClient) -> None:
    make_user(client, "maria")
    wrong_password = login(client, "maria", WRONG)
    typed = "maria-Hunter2-typed-into-the-name"
    before = log_size(client)
    unknown = login(client, typed, PASSWORD)
    assert unknown.status_code == wrong_password.status_code == 401
    assert unknown.json() == wrong_password.json()
    failed = [e for e in events(client, before) if e["type"] == "staff.login_failed"]
    assert len(failed) == 1
    assert failed[0]["actor"] == "anonymous"
    assert failed[0]["details"] == {"reason": "unknown_account"}
    everything = json.dumps(events(client))
    assert typed not in everything
    assert "Hunter2" not in everything


def test_disabled_account_cannot_log_in_and_its_token_stops(client: TestClient) -> None:
    admin = staff_login(client, "admin")
    user_id = make_user(client, "maria")
    token = bearer(login(client, "maria"))
    assert client.get("/api/v1/auth/me", headers=token).status_code == 200
    r = client.post(f"/api/v1/users/{user_id}/disable", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["disabled"] is True
    assert of_type(client, "staff.disabled", user_id)
    r = client.get("/api/v1/auth/me", headers=token)
    assert r.status_code == 401
    r = client.get("/api/v1/evidence", headers=token)
    assert r.status_code == 401
    before = log_size(client)
    r = login(client, "maria")
    assert r.status_code == 401
    assert r.json() == login(client, "maria", WRONG).json()
    failed = [e for e in events(client, before) if e["type"] == "staff.login_failed"]
    assert failed[0]["details"] == {"reason": "disabled"}


def test_logout_revokes_the_token(client: TestClient) -> None:
    user_id = make_user(client, "maria")
    first = bearer(login(client, "maria"))
    second = bearer(login(client, "maria"))
    r = client.post("/api/v1/auth/logout", headers=first)
    assert r.status_code == 204
    assert client.get("/api/v1/auth/me", headers=first).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=first).status_code == 401
    assert client.get("/api/v1/auth/me", headers=second).status_code == 200  # the other session
    assert len(of_type(client, "staff.logout", user_id)) == 1


def test_sessions_expire(client: TestClient, settings: Settings) -> None:
    make_user(client, "maria")
    now = utcnow()
    freeze(client, now)
    token = bearer(login(client, "maria"))
    freeze(client, now + settings.session_ttl - timedelta(seconds=1))
    assert client.get("/api/v1/auth/me", headers=token).status_code == 200
    freeze(client, now + settings.session_ttl + timedelta(seconds=1))
    r = client.get("/api/v1/auth/me", headers=token)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic st_abc", "Bearer st_not-a-session", "Bearer wt_abc"],
)
def test_bad_staff_tokens(client: TestClient, authorization: str) -> None:
    r = client.get("/api/v1/auth/me", headers={"Authorization": authorization})
    assert r.status_code == 401


# --- accounts ----------------------------------------------------------------------------------


def new_user(name: str, role: str, password: str = PASSWORD) -> dict[str, str]:
    return {"name": name, "role": role, "password": password}


def names_listed(client: TestClient, headers: dict[str, str]) -> set[str]:
    r = client.get("/api/v1/users", headers=headers)
    assert r.status_code == 200, r.text
    return {u["name"] for u in r.json()}


def test_admin_creates_any_role(client: TestClient) -> None:
    """Investigator and auditor accounts at once; supervisor and admin ones wait for a second
    admin (tests/integration/test_role_grants.py)."""
    admin = staff_login(client, "admin")
    second = staff_login(client, "admin", "admin-2")
    me = client.get("/api/v1/auth/me", headers=admin).json()
    for role in ("investigator", "supervisor", "auditor", "admin"):
        r = client.post("/api/v1/users", json=new_user(f"new-{role}", role), headers=admin)
        guarded = role in ("supervisor", "admin")
        assert r.status_code == (202 if guarded else 201), r.text
        if guarded:
            user_id = r.json()["target"]
            r = client.post(f"/api/v1/changes/{r.json()['id']}/confirm", headers=second)
            assert r.status_code == 200, r.text
            (body,) = [
                u for u in client.get("/api/v1/users", headers=admin).json() if u["id"] == user_id
            ]
        else:
            body = r.json()
        assert (body["name"], body["role"], body["disabled"]) == (f"new-{role}", role, False)
        assert set(body) == {"id", "name", "role", "disabled", "pending", "created_at"}
        assert body["pending"] is False
        (created,) = of_type(client, "staff.created", body["id"])
        assert created["actor"] == f"staff:{me['id']}:admin"
        expected = {"name": f"new-{role}", "role": role}
        assert created["details"] == ({**expected, "pending": True} if guarded else expected)
        r = login(client, f"new-{role}")
        assert r.status_code == 200 and r.json()["role"] == role
    assert {"new-investigator", "new-supervisor", "new-auditor", "new-admin"} <= names_listed(
        client, admin
    )
    assert PASSWORD not in json.dumps(events(client))


def test_supervisor_manages_investigators_only(client: TestClient) -> None:
    admin = staff_login(client, "admin")
    supervisor = staff_login(client, "supervisor")
    r = client.post("/api/v1/users", json=new_user("inv-1", "investigator"), headers=supervisor)
    assert r.status_code == 201, r.text
    inv_id = r.json()["id"]
    for role in ("supervisor", "auditor", "admin"):
        r = client.post("/api/v1/users", json=new_user(f"x-{role}", role), headers=supervisor)
        assert r.status_code == 403, role
        assert r.json()["error"] == "forbidden"
    assert not {"x-supervisor", "x-auditor", "x-admin"} & names_listed(client, admin)
    # Supervisors see investigators only.
    assert names_listed(client, supervisor) == {"inv-1"}

    other_supervisor = make_user(client, "sup-2", "supervisor")
    for target in (other_supervisor, make_user(client, "adm-2", "admin")):
        r = client.post(f"/api/v1/users/{target}/disable", headers=supervisor)
        assert r.status_code == 403
    assert login(client, "sup-2").status_code == 200  # still enabled
    r = client.post(f"/api/v1/users/{inv_id}/disable", headers=supervisor)
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert login(client, "inv-1").status_code == 401
    assert client.post("/api/v1/users/no-such-user/disable", headers=admin).status_code == 404


@pytest.mark.parametrize("role", ["investigator", "auditor"])
def test_other_roles_cannot_manage_accounts(client: TestClient, role: str) -> None:
    headers = staff_login(client, role)
    target = make_user(client, "someone")
    assert client.get("/api/v1/users", headers=headers).status_code == 403
    r = client.post("/api/v1/users", json=new_user("inv-9", "investigator"), headers=headers)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert client.post(f"/api/v1/users/{target}/disable", headers=headers).status_code == 403
    assert login(client, "someone").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        new_user("weak", "investigator", "short-pw-11"),
        new_user("has space", "investigator"),
        new_user("", "investigator"),
        new_user("x" * 65, "investigator"),
        {"name": "nopass", "role": "investigator"},
        {**new_user("extra", "investigator"), "disabled": True},
        new_user("root", "root"),
    ],
    ids=["weak-password", "space", "empty-name", "long-name", "no-password", "extra", "bad-role"],
)
def test_bad_new_accounts_are_422(client: TestClient, body: dict[str, Any]) -> None:
    admin = staff_login(client, "admin")
    before = log_size(client)
    r = client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 422, r.text
    assert [e for e in events(client, before) if e["type"] == "staff.created"] == []


def test_duplicate_account_is_409(client: TestClient) -> None:
    admin = staff_login(client, "admin")
    assert client.post("/api/v1/users", json=new_user("dup", "auditor"), headers=admin).status_code
    r = client.post("/api/v1/users", json=new_user("dup", "investigator"), headers=admin)
    assert r.status_code == 409
    assert r.json()["error"] == "user_exists"


# --- settings ----------------------------------------------------------------------------------


def test_settings_are_for_admins(client: TestClient, settings: Settings) -> None:
    r = client.get("/api/v1/settings", headers=staff_login(client, "admin"))
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["session_ttl"] == str(settings.session_ttl)
    assert shown["login_max_failures"] == str(settings.login_max_failures)
    for role in ("investigator", "supervisor", "auditor"):
        r = client.get("/api/v1/settings", headers=staff_login(client, role))
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert client.get("/api/v1/settings").status_code == 401


def test_settings_do_not_leak_secrets(client: TestClient, settings: Settings) -> None:
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    # What a PostgreSQL deployment would be running with (the engine is already open).
    db_password = "S3cret-db-pa55"
    rt.settings = settings.model_copy(
        update={"database_url": f"postgresql+psycopg://portal:{db_password}@db.internal/portal"}
    )
    r = client.get("/api/v1/settings", headers=staff_login(client, "admin"))
    assert r.status_code == 200, r.text
    text = r.text
    assert "database_url" in r.json()
    assert db_password not in text, "the database password is shown"
    secrets = [
        settings.resolved_contact_key_file.read_text().strip(),
        rt.log_signer,
        settings.resolved_log_key_file.read_text().strip(),
    ]
    for secret in secrets:
        assert secret and secret not in text
