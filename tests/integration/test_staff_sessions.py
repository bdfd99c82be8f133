"""Staff sessions: each sees and ends their own, an admin ends anyone's, and disabling an
account ends its sessions on every instance at once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from tests.support.api import PASSWORD, staff_login
from tests.support.custody import log_size, of_type
from tests.support.second_factor import make_user

pytestmark = pytest.mark.both_backends


def session_of(client: TestClient, name: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def me(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get("/api/v1/auth/me", headers=headers)


def test_staff_see_and_end_their_own_sessions(client: TestClient) -> None:
    user_id = make_user(client, "ines", "investigator")
    laptop, phone = session_of(client, "ines"), session_of(client, "ines")
    r = client.get("/api/v1/auth/sessions", headers=laptop)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert len(listed) == 2 and [s["current"] for s in listed] == [True, False]
    other = listed[1]["id"]
    before = log_size(client)
    for bad in ("0" * 32, "not-a-session"):
        r = client.delete(f"/api/v1/auth/sessions/{bad}", headers=laptop)
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert log_size(client) == before
    # Someone else's session is not theirs to end: it is not found among their own.
    colleague = staff_login(client, "investigator", "iker")
    assert client.delete(f"/api/v1/auth/sessions/{other}", headers=colleague).status_code == 404
    assert me(client, phone).status_code == 200
    assert client.delete(f"/api/v1/auth/sessions/{other}", headers=laptop).status_code == 204
    assert me(client, phone).status_code == 401
    assert me(client, laptop).status_code == 200
    (ended,) = of_type(client, "staff.sessions_ended", user_id)
    assert ended["details"] == {"sessions": [other]}
    assert ended["actor"] == f"staff:{user_id}:investigator"
    assert [s["current"] for s in client.get("/api/v1/auth/sessions", headers=laptop).json()] == [
        True
    ]


def test_an_admin_ends_anyones_sessions(client: TestClient) -> None:
    user_id = make_user(client, "ines", "investigator")
    sessions = [session_of(client, "ines"), session_of(client, "ines")]
    admin = staff_login(client, "admin", "ana")
    supervisor = staff_login(client, "supervisor", "sara")
    for headers in (supervisor, sessions[0]):
        assert client.get(f"/api/v1/users/{user_id}/sessions", headers=headers).status_code == 403
        assert (
            client.delete(f"/api/v1/users/{user_id}/sessions", headers=headers).status_code == 403
        )
    listed = client.get(f"/api/v1/users/{user_id}/sessions", headers=admin).json()
    assert len(listed) == 2 and not any(s["current"] for s in listed)
    assert client.delete("/api/v1/users/nobody/sessions", headers=admin).status_code == 404
    r = client.delete(f"/api/v1/users/{user_id}/sessions", headers=admin)
    assert r.status_code == 200 and r.json() == {"ended": 2}
    assert all(me(client, h).status_code == 401 for h in sessions)
    (ended,) = of_type(client, "staff.sessions_ended", user_id)
    assert ended["actor"].endswith(":admin") and len(ended["details"]["sessions"]) == 2
    assert client.get(f"/api/v1/users/{user_id}/sessions", headers=admin).json() == []


def test_disabling_ends_sessions_on_every_instance(client: TestClient, settings: Settings) -> None:
    """Two app instances on one database: the session opened on one dies on it when the
    account is disabled through the other."""
    user_id = make_user(client, "ines", "investigator")
    with TestClient(create_app(settings)) as other:
        token = session_of(other, "ines")
        assert me(other, token).status_code == 200
        admin = staff_login(client, "admin", "ana")
        r = client.post(f"/api/v1/users/{user_id}/disable", headers=admin)
        assert r.status_code == 200, r.text
        assert me(other, token).status_code == 401
        assert client.get(f"/api/v1/users/{user_id}/sessions", headers=admin).json() == []
