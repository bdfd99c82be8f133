"""In Chromium: a supervisor told to enrol a second factor scans nothing but reads the key,
turns it on, keeps the recovery codes and signs in with password and TOTP code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from portal.clock import utcnow
from portal.config import Settings
from portal.custody import service as custody
from tests.support.api import PASSWORD
from tests.support.second_factor import Clock
from tests.support.web import LiveServer, PageProblems, live_server, screenshot


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings.model_copy(update={"second_factor_roles": "supervisor"})) as s:
        yield s


def test_supervisor_enrols_and_signs_in_with_a_code(browser: Any, live: LiveServer) -> None:
    clock = Clock(utcnow())
    live.runtime.clock = lambda: clock.now
    user_id = live.add_staff("sofia", "supervisor")
    page = browser.new_page(locale="es-MX")
    problems = PageProblems(page)
    page.goto(live.url + "/web/staff/login")
    page.fill("#username", "sofia")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    assert "segundo factor" in page.inner_text("main")
    page.click("a[href^='/web/staff/second-factor']")
    assert page.input_value("#username") == "sofia"
    page.fill("#password", PASSWORD)
    page.click("#mfa-start button[type=submit]")
    assert page.locator("#mfa-qr svg").count() == 1
    secret = page.inner_text("#mfa-secret").strip()
    screenshot(page, "second-factor-qr")
    page.fill("#password", PASSWORD)
    page.fill("#code", pyotp.TOTP(secret).at(clock.now))
    page.click("#mfa-confirm button[type=submit]")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    clock.step()
    page.goto(live.url + "/web/staff/login")
    page.fill("#username", "sofia")
    page.fill("#password", PASSWORD)
    page.fill("#code", pyotp.TOTP(secret).at(clock.now))
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/web/staff/retention**")
    assert problems.csp_violations() == []
    rt = live.runtime
    with rt.sessions() as db:
        size = custody.tree_size(db)
        logged = [json.loads(e.event) for e in custody.entries(db, start=0, end=size)]
    mine = [(e["type"], e["details"]) for e in logged if e["subject"] == user_id]
    assert ("staff.second_factor_enrolled", {"method": "totp", "recovery_codes": 10}) in mine
    assert mine[-1][0] == "staff.login" and mine[-1][1]["second_factor"] == "totp"
    assert secret not in json.dumps(logged)
