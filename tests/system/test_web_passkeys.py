"""In Chromium, with the DevTools protocol's virtual authenticator standing in for a phone:
an investigator adds a passkey, then signs in with password and passkey.

WebAuthn refuses IP addresses as relying-party ids, so the browser uses `localhost`."""

from __future__ import annotations

import json
from typing import Any

from portal.custody import service as custody
from tests.support.api import PASSWORD
from tests.support.web import LiveServer, PageProblems, screenshot

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def test_add_a_passkey_and_sign_in_with_it(browser: Any, live: LiveServer) -> None:
    user_id = live.add_staff("ines", "investigator")
    base = live.url.replace("127.0.0.1", "localhost")
    context = browser.new_context(locale="es-MX")
    page = context.new_page()
    problems = PageProblems(page)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    page.goto(base + "/web/staff/login")
    page.fill("#username", "ines")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/web/staff/queue**")
    page.goto(base + "/web/staff/passkeys")
    assert page.locator("#no-passkeys").count() == 1
    page.fill("#passkey-name", "teléfono")
    page.click("#passkey-add button[type=submit]")
    page.wait_for_selector("#passkeys tr[data-passkey]")
    assert "teléfono" in page.inner_text("#passkeys")
    screenshot(page, "passkeys")
    stored = cdp.send("WebAuthn.getCredentials", authenticator)["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"]
    page.click("nav form button[type=submit]")  # sign out
    page.goto(base + "/web/staff/login")
    page.fill("#username", "ines")
    page.fill("#password", PASSWORD)
    page.click("#passkey-login")
    page.wait_for_url("**/web/staff/queue**")
    assert problems.csp_violations() == []
    with live.runtime.sessions() as db:
        size = custody.tree_size(db)
        logged = [json.loads(e.event) for e in custody.entries(db, start=0, end=size)]
    mine = [(e["type"], e["details"]) for e in logged if e["subject"] == user_id]
    assert mine[-1][0] == "staff.login" and mine[-1][1]["second_factor"] == "passkey"
    assert any(t == "staff.second_factor_enrolled" and d["method"] == "passkey" for t, d in mine)
    after = cdp.send("WebAuthn.getCredentials", authenticator)["credentials"]
    assert after[0]["signCount"] >= 1
