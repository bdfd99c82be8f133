"""A witness's and a staff member's first steps through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from portal.runtime import Runtime

CONSENT = {"version": "1", "scopes": ["investigation", "prosecution"], "language": "es"}
CONTACT = {"name": "Ana Testigo", "phone": "+34 600 111 222", "email": "ana@example.org"}
INCIDENT = {"place": "Calle Mayor 1", "description": "seen from the balcony"}
PASSWORD = "correct horse battery staple"


def new_submission(client: httpx.Client | TestClient, **extra: Any) -> tuple[str, str]:
    r = client.post("/api/v1/submissions", json={"consent": CONSENT, **extra})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["id"], body["witness_token"]


def staff_login(client: TestClient, role: str, name: str | None = None) -> dict[str, str]:
    """Create a staff account with `role` and return its bearer headers."""
    from portal.auth.service import add_user
    from portal.db import transaction

    rt = client.app.state.runtime  # type: ignore[attr-defined]
    name = name or f"{role}-{len(role)}"
    with transaction(rt.sessions) as db:
        add_user(db, name=name, role=role, password=PASSWORD, now=rt.clock())
    r = client.post("/api/v1/auth/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def runtime(client: TestClient) -> Runtime:
    app = client.app
    assert isinstance(app, FastAPI)
    rt = app.state.runtime
    assert isinstance(rt, Runtime)
    return rt


def set_clock(client: TestClient, clock: Callable[[], datetime]) -> None:
    client.app.state.runtime.clock = clock  # type: ignore[attr-defined]
