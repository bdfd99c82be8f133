"""In Chromium, against a real OpenID provider (npm oidc-provider) on 127.0.0.1: staff sign in
with the provider, accounts are made only for mapped roles, supervisor and admin claims wait
for a portal admin, and callbacks with a wrong state, nonce or issuer are refused and logged."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sqlalchemy import select

from portal.auth.models import StaffUser
from portal.changes import service as changes
from portal.config import Settings
from portal.custody import service as custody
from portal.db import transaction
from portal.flows import changes as change_flow
from tests.support.api import PASSWORD
from tests.support.oidc import Provider, oidc_provider
from tests.support.servers import free_port
from tests.support.web import LiveServer, PageProblems, live_server, screenshot


@pytest.fixture
def sso(settings: Settings) -> Iterator[tuple[LiveServer, Provider]]:
    port = free_port()
    provider = Provider(f"http://127.0.0.1:{port}")
    with (
        live_server(
            provider.settings(settings, oidc_mfa_amr="mfa", second_factor_roles="supervisor,admin")
        ) as live,
        oidc_provider(port, live.url) as running,
    ):
        yield live, running


def _events(live: LiveServer) -> list[dict[str, Any]]:
    with live.runtime.sessions() as db:
        size = custody.tree_size(db)
        return [json.loads(e.event) for e in custody.entries(db, start=0, end=size)]


def _accounts(live: LiveServer) -> list[StaffUser]:
    with live.runtime.sessions() as db:
        return list(db.scalars(select(StaffUser)))


def _to_provider(page: Any, live: LiveServer, login: str) -> None:
    """From the portal's sign-in page through the provider's own login form."""
    page.goto(live.url + "/web/staff/login")
    page.click("#oidc-login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")


def test_investigator_signs_in_and_out_through_the_provider(
    browser: Any, sso: tuple[LiveServer, Provider]
) -> None:
    live, provider = sso
    page = browser.new_page(locale="es-MX")
    problems = PageProblems(page)
    page.goto(live.url + "/web/staff/login")
    assert page.inner_text("#oidc-login") == "Entrar con Fiscalía ID"
    _to_provider(page, live, "ana")
    page.wait_for_url("**/web/staff/queue**")
    assert "ana" in page.inner_text("nav")
    screenshot(page, "oidc-signed-in")
    [ana] = [u for u in _accounts(live) if u.name == "ana"]
    assert ana.role == "investigator" and not ana.pending
    mine = [(e["type"], e["details"]) for e in _events(live) if e["subject"] == ana.id]
    assert [t for t, _ in mine] == ["staff.created", "staff.identity_linked", "staff.login"]
    assert mine[1][1] == {"issuer": provider.issuer, "subject": "ana"}
    assert mine[2][1]["method"] == "oidc" and mine[2][1]["issuer"] == provider.issuer
    # Logout ends the portal session and goes on to the provider's end-session page.
    page.click("nav form button[type=submit]")
    page.wait_for_url(provider.issuer + "/session/end**")
    page.click("button[type=submit][value=yes], button[type=submit]")
    page.wait_for_url("**/web/staff/login**")
    assert _events(live)[-1]["type"] == "staff.logout"
    assert page.goto(live.url + "/web/staff/queue").url.startswith(live.url + "/web/staff/login")
    # A second sign-in finds the same account (none made twice).
    _to_provider(page, live, "ana")
    page.wait_for_url("**/web/staff/queue**")
    assert [u.name for u in _accounts(live)].count("ana") == 1
    assert problems.csp_violations() == []


def test_an_unmapped_role_is_refused_with_a_page_and_logged(
    browser: Any, sso: tuple[LiveServer, Provider]
) -> None:
    live, _ = sso
    page = browser.new_page(locale="en-GB")
    with page.expect_response("**/web/staff/oidc/callback**") as reply:
        _to_provider(page, live, "carla")
    assert reply.value.status == 403
    assert page.get_attribute("#oidc-why", "data-reason") == "unmapped_role"
    assert "gives you no role" in page.inner_text("main")
    assert _accounts(live) == []
    last = _events(live)[-1]
    assert last["type"] == "staff.login_failed"
    assert last["details"]["reason"] == "unmapped_role"
    assert last["details"]["role_claim"] == ["contractor"]


@pytest.mark.both_backends
def test_an_admin_claim_waits_for_a_portal_admin(
    browser: Any, sso: tuple[LiveServer, Provider]
) -> None:
    live, _ = sso
    page = browser.new_page(locale="es-MX")
    _to_provider(page, live, "bruno")
    assert page.get_attribute("#oidc-why", "data-reason") == "pending"
    assert "espera que un administrador" in page.inner_text("main")
    [bruno] = _accounts(live)
    assert bruno.pending and bruno.role == "admin"
    rt = live.runtime
    with rt.sessions() as db:
        [req] = changes.pending(db, target=bruno.id)
    assert req.new == {"role": "admin"} and req.requested_by == "system"
    # A portal admin confirms; the provider's `amr` then stands for the second factor.
    admin_id = live.add_staff("root", "admin")
    with transaction(rt.sessions) as db:
        admin = db.get(StaffUser, admin_id)
        assert admin is not None
        change_flow.confirm(db, rt.retention, user=admin, request_id=req.id, now=rt.clock())
    # Still signed in at the provider: the button alone brings bruno in.
    page.goto(live.url + "/web/staff/login")
    page.click("#oidc-login")
    page.wait_for_url("**/web/staff/users**")
    last = _events(live)[-1]
    assert last["type"] == "staff.login" and last["details"]["second_factor"] == "provider:mfa"
    assert PASSWORD not in json.dumps(_events(live))


def _flow_cookie(context: Any) -> dict[str, Any]:
    [flow] = [c for c in context.cookies() if c["name"] == "portal_oidc_flow"]
    return dict(flow)


def _altered(flow: dict[str, Any], **changes: str) -> dict[str, Any]:
    kept = json.loads(base64.urlsafe_b64decode(flow["value"]))
    kept.update(changes)
    return {**flow, "value": base64.urlsafe_b64encode(json.dumps(kept).encode()).decode()}


def _with(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return parts._replace(query=urlencode(query)).geturl()


@pytest.mark.parametrize("bad", ["state", "nonce", "issuer"])
def test_a_forged_callback_is_refused_and_logged(
    browser: Any, sso: tuple[LiveServer, Provider], bad: str
) -> None:
    live, _ = sso
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(live.url + "/web/staff/login")
    page.click("#oidc-login")
    page.wait_for_selector("input[name=login]")
    flow = _flow_cookie(context)
    # What the browser holds no longer matches what the provider answers: an answer to
    # another browser's request (state), or an ID token issued for another sign-in (nonce).
    if bad == "nonce":
        context.add_cookies([_altered(flow, nonce="another-sign-in")])
    else:
        context.add_cookies([_altered(flow, state="another-browser")])
    before = len(_events(live))
    with page.expect_response("**/web/staff/oidc/callback**") as reply:
        page.fill("input[name=login]", "ana")
        page.fill("input[name=password]", "any password")
        page.click("button[type=submit]")
    if bad == "issuer":
        # The same answer, now to this browser's own request, but naming another issuer
        # (RFC 9207): a code from one provider is never redeemed at another.
        context.add_cookies([flow])
        before = len(_events(live))
        answer = page.goto(_with(reply.value.url, iss="http://127.0.0.1:1"))
        assert answer is not None
        status = answer.status
    else:
        status = reply.value.status
    assert status == 400
    assert page.get_attribute("#oidc-why", "data-reason") == "untrusted"
    assert "could not be verified" in page.inner_text("main")
    logged = _events(live)[before:]
    assert [e["type"] for e in logged] == ["staff.login_failed"]
    assert logged[0]["details"]["reason"] == f"{bad}_mismatch"
    assert _accounts(live) == []
    context.close()


def test_a_provider_naming_another_issuer_is_refused_before_sign_in(settings: Settings) -> None:
    port = free_port()
    # Reached as localhost, the provider calls itself 127.0.0.1: not the configured issuer.
    wrong = Provider(f"http://localhost:{port}")
    with (
        live_server(wrong.settings(settings)) as live,
        oidc_provider(port, live.url),
        live.client() as http,
    ):
        answer = http.get("/web/staff/oidc/start", headers={"Accept-Language": "en"})
    assert answer.status_code == 400
    assert 'data-reason="untrusted"' in answer.text
    last = _events(live)[-1]
    assert last["type"] == "staff.login_failed"
    assert last["details"]["reason"] == "issuer_mismatch"


def test_without_a_provider_there_is_no_button_and_no_sign_in(live: LiveServer) -> None:
    with live.client() as http:
        assert 'id="oidc-login"' not in http.get("/web/staff/login").text
        assert http.get("/web/staff/oidc/start").status_code == 404
        assert http.get("/web/staff/oidc/callback?code=x&state=y").status_code == 404
    assert [e for e in _events(live) if e["type"].startswith("staff.")] == []
