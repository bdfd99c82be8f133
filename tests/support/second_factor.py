"""Staff accounts with a TOTP second factor, signed in through the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from portal.auth.service import add_user
from portal.clock import utcnow
from portal.db import transaction
from tests.support.api import PASSWORD, runtime, set_clock


@dataclass
class Clock:
    """A settable clock for the app: TOTP codes depend on the time, and each is used once."""

    now: datetime

    def step(self, seconds: int = 30) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def frozen_clock(client: TestClient) -> Clock:
    clock = Clock(utcnow())
    set_clock(client, lambda: clock.now)
    return clock


def make_user(client: TestClient, name: str, role: str) -> str:
    rt = runtime(client)
    with transaction(rt.sessions) as db:
        return add_user(db, name=name, role=role, password=PASSWORD, now=rt.clock()).id


def login(client: TestClient, name: str, password: str = PASSWORD, code: str = "") -> Any:
    data = {"username": name, "password": password}
    if code:
        data["code"] = code
    return client.post("/api/v1/auth/login", data=data)


def enrol(client: TestClient, name: str, clock: Clock) -> tuple[str, list[str]]:
    """Enrol a TOTP factor for `name`; its secret and recovery codes."""
    r = client.post("/api/v1/auth/second-factor", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    code = pyotp.TOTP(secret).at(clock.now)
    r = client.post(
        "/api/v1/auth/second-factor/confirm",
        data={"username": name, "password": PASSWORD, "code": code},
    )
    assert r.status_code == 200, r.text
    return secret, r.json()["recovery_codes"]


def enrolled_login(
    client: TestClient, clock: Clock, role: str, name: str
) -> tuple[dict[str, str], str]:
    """A new account with `role`, a second factor and a session: its headers and secret."""
    make_user(client, name, role)
    secret, _ = enrol(client, name, clock)
    clock.step()  # the enrolment's code is spent
    r = login(client, name, code=pyotp.TOTP(secret).at(clock.now))
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}, secret
