"""Web page security without a browser: CSRF on every POST, the CSP and other headers on every
page, cookie flags, who sees witness contact, the same custody events as the API, and every
staff page against every role."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from portal.auth.models import StaffUser
from portal.auth.permissions import MATRIX, Permission
from portal.auth.service import add_user
from portal.config import Settings
from portal.custody import service as custody
from portal.db import transaction
from portal.evidence.models import Evidence
from portal.submissions.models import Submission
from portal.web import router as web_router  # the module
from portal.web.access import web_staff
from portal.web.security import CSP
from tests.support.api import PASSWORD, runtime
from tests.support.requests import request_body
from tests.support.web import csrf_of, received, web_app

HTTPS = "https://testserver"
CONTACT = {"name": "Ana Testigo", "phone": "+52 55 1234 5678", "email": "ana@example.org"}


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


def another(client: TestClient, base_url: str = HTTPS) -> TestClient:
    """A second browser on the same running app (its own cookie jar)."""
    return TestClient(client.app, base_url=base_url)


def add_staff(client: TestClient, name: str, role: str) -> str:
    rt = runtime(client)
    with transaction(rt.sessions) as db:
        return add_user(db, name=name, role=role, password=PASSWORD, now=rt.clock()).id


def web_login(client: TestClient, name: str, role: str | None = None) -> None:
    if role:
        add_staff(client, name, role)
    r = client.post(
        "/web/staff/login",
        data={"csrf": csrf_of(client, "/web/staff/login"), "username": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def events(client: TestClient) -> list[dict[str, Any]]:
    rt = runtime(client)
    with rt.sessions() as db:
        size = custody.tree_size(db)
        return [json.loads(e.event) for e in custody.entries(db, start=0, end=size)]


class Markup(HTMLParser):
    """Collects what a strict CSP would refuse: inline scripts, handlers, style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.inline.append("inline <script>")
        if tag == "style":
            self.inline.append("<style>")
        for name, _ in attrs:
            if name.startswith("on") or name == "style":
                self.inline.append(f"{tag} {name}=")
        for name in ("src", "href", "action"):
            value = names.get(name) or ""
            if value.startswith(("http:", "https:", "//")):
                self.inline.append(f"{tag} {name}={value} (another host)")


def check_headers(r: Any, where: str) -> None:
    assert r.headers.get("content-security-policy") == CSP, where
    for part in ("default-src 'self'", "frame-ancestors 'none'", "script-src 'self'"):
        assert part in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert r.headers.get("referrer-policy") == "no-referrer", where
    if r.headers.get("content-type", "").startswith("text/html"):
        markup = Markup()
        markup.feed(r.text)
        assert markup.inline == [], f"{where}: {markup.inline}"
        assert r.headers.get("cache-control") == "no-store", where


# --- headers -------------------------------------------------------------------------------------


def test_csp_and_security_headers_on_every_page(web: TestClient, video: Path) -> None:
    sub_id, token, evidence_id = received(web, video, contact=CONTACT)
    code = f"{sub_id}.{token}"
    csrf = csrf_of(web)
    pages: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/web/", {}),
        ("GET", "/web/?lang=en", {}),
        ("GET", "/web/status", {}),
        ("GET", "/web/receipt", {}),
        ("GET", f"/web/upload/{sub_id}", {}),
        ("GET", "/web/no-such-page", {}),
        ("GET", "/web/static/portal.css", {}),
        ("GET", "/web/static/witness.js", {}),
        ("GET", "/web/static/vendor/tus.min.js", {}),
        ("GET", "/web/staff/login", {}),
        ("GET", "/web/staff/queue", {}),  # a redirect to the login page
        ("POST", "/web/status", {"data": {"csrf": csrf, "code": code}}),
        ("POST", "/web/status", {"data": {"csrf": csrf, "code": "wrong"}}),
        ("POST", "/web/receipt", {"data": {"csrf": csrf, "code": code}}),
        ("POST", "/web/withdraw", {"data": {"csrf": csrf, "code": code}}),
        ("POST", "/web/status", {"data": {"code": code}}),  # refused: no CSRF token
        (
            "POST",
            "/web/submissions",
            {"data": {"csrf": csrf, "consent_version": "1", "scopes": ["investigation"]}},
        ),
    ]
    for method, path, extra in pages:
        r = web.request(method, path, follow_redirects=False, **extra)
        assert r.status_code < 500, (path, r.text[:300])
        check_headers(r, f"{method} {path}")

    web_login(web, "sofia", "supervisor")
    rt = runtime(web)
    with transaction(rt.sessions) as db:
        from portal.cases import service as cases

        user = db.scalars(select(StaffUser).where(StaffUser.name == "sofia")).one()
        case_id = cases.create(db, user=user, title="Case", reference=None, now=rt.clock()).id
    csrf = csrf_of(web, "/web/staff/queue")
    staff_pages: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/web/staff/queue", {}),
        ("GET", "/web/staff/queue?status=new&media_type=video&received_from=2000-01-01", {}),
        ("GET", "/web/staff/queue?received_from=not-a-date", {}),
        ("GET", f"/web/staff/evidence/{evidence_id}", {}),
        ("GET", f"/web/staff/evidence/{evidence_id}/thumbnail", {}),
        ("GET", f"/web/staff/evidence/{evidence_id}/content", {"headers": {"Range": "bytes=0-9"}}),
        ("GET", "/web/staff/evidence/nope", {}),
        ("GET", "/web/staff/cases", {}),
        ("GET", f"/web/staff/cases/{case_id}", {}),
        ("GET", "/web/staff/retention", {}),
        ("GET", "/web/staff/log", {}),
        ("POST", f"/web/staff/evidence/{evidence_id}/contact", {"data": {"csrf": csrf}}),
        ("POST", f"/web/staff/evidence/{evidence_id}/triage", {"data": {"csrf": csrf}}),
    ]
    for method, path, extra in staff_pages:
        r = web.request(method, path, follow_redirects=False, **extra)
        assert r.status_code < 500, (path, r.text[:300])
        check_headers(r, f"{method} {path}")


# --- CSRF ----------------------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused(web: TestClient, video: Path) -> None:
    add_staff(web, "ivan", "investigator")
    sub_id, token, evidence_id = received(web, video)
    before = len(events(web))

    # Login without the token, or with a token that is not this browser's: refused, and
    # nothing happened (no login, no failed-login event).
    r = web.post(
        "/web/staff/login",
        data={"username": "ivan", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "portal_session" not in r.headers.get("set-cookie", "")
    r = web.post(
        "/web/staff/login",
        data={"csrf": "x" * 43, "username": "ivan", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert len(events(web)) == before

    # A witness's consent form without the token creates nothing.
    rt = runtime(web)
    with rt.sessions() as db:
        submissions = len(db.scalars(select(Submission)).all())
    r = web.post("/web/submissions", data={"consent_version": "1", "scopes": ["investigation"]})
    assert r.status_code == 403
    r = web.post("/web/withdraw", data={"code": f"{sub_id}.{token}", "confirm": "yes"})
    assert r.status_code == 403
    with rt.sessions() as db:
        assert len(db.scalars(select(Submission)).all()) == submissions
        assert db.get(Submission, sub_id).status == "open"  # type: ignore[union-attr]

    # Logged in, a triage without the token (or from another site) changes nothing.
    web_login(web, "ivan")
    form = {"decision": "accept", "reason": "clear footage"}
    r = web.post(f"/web/staff/evidence/{evidence_id}/triage", data=form, follow_redirects=False)
    assert r.status_code == 403
    csrf = csrf_of(web, "/web/staff/queue")
    r = web.post(
        f"/web/staff/evidence/{evidence_id}/triage",
        data={**form, "csrf": csrf},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = web.post(
        f"/web/staff/evidence/{evidence_id}/triage",
        data={**form, "csrf": csrf + "x"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    with rt.sessions() as db:
        assert db.get(Evidence, evidence_id).status == "new"  # type: ignore[union-attr]

    r = web.post(
        f"/web/staff/evidence/{evidence_id}/triage",
        data={**form, "csrf": csrf},
        headers={"Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with rt.sessions() as db:
        assert db.get(Evidence, evidence_id).status == "accepted"  # type: ignore[union-attr]

    # Logout is a POST too.
    r = web.post("/web/staff/logout", follow_redirects=False)
    assert r.status_code == 403
    assert web.get("/web/staff/queue", follow_redirects=False).status_code == 200


def test_cookie_flags_and_session_lifecycle(web: TestClient) -> None:
    add_staff(web, "carla", "investigator")
    first = csrf_of(web, "/web/staff/login")
    r = web.post(
        "/web/staff/login",
        data={"csrf": first, "username": "carla", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/web/staff/queue"
    cookies = {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}
    session = cookies["__Host-portal_session"]
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag in session, session
    assert "Max-Age=28800" in session  # PORTAL_SESSION_TTL
    # A fresh CSRF token for the new session.
    assert "Secure" in cookies["__Host-portal_csrf"]
    assert csrf_of(web, "/web/staff/queue") != first

    csrf = csrf_of(web, "/web/staff/queue")
    r = web.post("/web/staff/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    login = web.get("/web/staff/queue", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"].startswith("/web/staff/login")
    kinds = [e["type"] for e in events(web) if e["type"].startswith("staff.log")]
    assert kinds == ["staff.login", "staff.logout"]

    # Plain http to a loopback address (tests, a laptop): not Secure, no __Host- prefix.
    local = another(web, "http://127.0.0.1:8000")
    r = local.get("/web/staff/login")
    assert "Secure" not in r.headers["set-cookie"]
    assert r.headers["set-cookie"].startswith("portal_csrf=")
    # Plain http to any other host: still Secure (the browser will not send it back), and
    # the login page says HTTPS is needed.
    remote = another(web, "http://portal.example.org")
    r = remote.get("/web/staff/login")
    assert "Secure" in r.headers["set-cookie"]
    assert "HTTPS" in r.text

    # Wrong password: the form again, with the failure on the record.
    r = web.post(
        "/web/staff/login",
        data={"csrf": csrf_of(web, "/web/staff/login"), "username": "carla", "password": "no"},
    )
    assert r.status_code == 401 and "Usuario o contraseña incorrectos" in r.text
    assert events(web)[-1]["type"] == "staff.login_failed"


def test_login_next_is_only_ever_a_staff_page(web: TestClient) -> None:
    add_staff(web, "dora", "investigator")
    for target, expected in (
        ("/web/staff/cases", "/web/staff/cases"),
        ("https://evil.example/", "/web/staff/queue"),
        ("//evil.example/web/staff/x", "/web/staff/queue"),
        ("/web/staff//evil.example", "/web/staff/queue"),
        ("/api/v1/evidence", "/web/staff/queue"),
    ):
        client = another(web)
        r = client.post(
            "/web/staff/login",
            data={
                "csrf": csrf_of(client, "/web/staff/login"),
                "username": "dora",
                "password": PASSWORD,
                "next": target,
            },
            follow_redirects=False,
        )
        assert r.headers["location"] == expected, target


# --- who sees what ------------------------------------------------------------------------------


def test_witness_contact_is_never_rendered_for_roles_that_may_not_see_it(
    web: TestClient, video: Path
) -> None:
    _, _, evidence_id = received(web, video, contact=CONTACT)
    secrets_ = (CONTACT["name"], CONTACT["phone"], CONTACT["email"])
    for role in ("investigator", "supervisor", "auditor", "admin"):
        client = another(web)
        web_login(client, f"who-{role}", role)
        page = client.get(f"/web/staff/evidence/{evidence_id}")
        may_read = Permission.EVIDENCE_READ in MATRIX[role]
        assert page.status_code == (200 if may_read else 403), role
        assert not any(s in page.text for s in secrets_), role
        may_see = Permission.WITNESS_CONTACT in MATRIX[role]
        assert ('id="show-contact"' in page.text) == may_see, role
        shown = client.post(
            f"/web/staff/evidence/{evidence_id}/contact",
            data={"csrf": csrf_of(client, "/web/staff/log")},
        )
        assert shown.status_code == (200 if may_see else 403), role
        assert all(s in shown.text for s in secrets_) == may_see, role
        if not may_see:
            assert not any(s in shown.text for s in secrets_), role
    viewed = [e for e in events(web) if e["type"] == "witness.contact_viewed"]
    assert len(viewed) == 1 and viewed[0]["actor"].endswith(":supervisor")
    assert not any(s in json.dumps(events(web)) for s in secrets_)


def test_pages_log_the_same_custody_events_as_the_api(web: TestClient, video: Path) -> None:
    _, _, evidence_id = received(web, video)
    rt = runtime(web)
    with transaction(rt.sessions) as db:
        from portal.cases import service as cases
        from portal.flows import cases as case_flows

        owner = add_user(
            db, name="case-owner", role="investigator", password=PASSWORD, now=rt.clock()
        )
        case_id = cases.create(db, user=owner, title="C", reference=None, now=rt.clock()).id
        case_flows.link(
            db, rt.retention, user=owner, case_id=case_id, evidence_id=evidence_id, now=rt.clock()
        )

    # The API, as investigator A.
    api_id = add_staff(web, "api-user", "investigator")
    token = web.post(
        "/api/v1/auth/login", data={"username": "api-user", "password": PASSWORD}
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    for path, headers in (
        ("/api/v1/evidence", {}),
        (f"/api/v1/evidence/{evidence_id}", {}),
        (f"/api/v1/evidence/{evidence_id}/custody", {}),
        (f"/api/v1/evidence/{evidence_id}/thumbnail", {}),
        (f"/api/v1/evidence/{evidence_id}/content", {"Range": "bytes=0-99"}),
        (f"/api/v1/evidence/{evidence_id}/content", {"Range": "bytes=100-199"}),
        (f"/api/v1/evidence/{evidence_id}/content?download=1", {}),
        (f"/api/v1/cases/{case_id}/evidence", {}),
    ):
        assert web.get(path, headers={**bearer, **headers}).status_code in (200, 206), path

    # The pages, as investigator B: queue, the item page (detail + timeline), its poster,
    # two range requests of one playback, a download, the case page.
    client = another(web)
    web_login(client, "web-user", "investigator")
    for path, headers in (
        ("/web/staff/queue", {}),
        (f"/web/staff/evidence/{evidence_id}", {}),
        (f"/web/staff/evidence/{evidence_id}/thumbnail", {}),
        (f"/web/staff/evidence/{evidence_id}/content", {"Range": "bytes=0-99"}),
        (f"/web/staff/evidence/{evidence_id}/content", {"Range": "bytes=100-199"}),
        (f"/web/staff/evidence/{evidence_id}/content?download=1", {}),
        (f"/web/staff/cases/{case_id}", {}),
    ):
        r = client.get(path, headers=headers)
        assert r.status_code in (200, 206), (path, r.text[:200])
        if "content" in path and "download" not in path:
            assert r.status_code == 206 and len(r.content) == 100
    download = client.get(f"/web/staff/evidence/{evidence_id}/content?download=1")
    assert download.content == video.read_bytes()

    with rt.sessions() as db:
        web_id = db.scalars(select(StaffUser.id).where(StaffUser.name == "web-user")).one()
    all_events = events(web)

    def kinds(user_id: str) -> Counter[str]:
        return Counter(
            e["type"]
            for e in all_events
            if e["actor"].startswith(f"staff:{user_id}:") and not e["type"].startswith("staff.")
        )

    api, pages = kinds(api_id), kinds(web_id)
    api_without_second_download = api.copy()
    pages_without_second_download = pages.copy()
    pages_without_second_download["evidence.downloaded"] -= 1
    assert pages_without_second_download == api_without_second_download, (pages, api)
    assert api["evidence.stream_opened"] == 1  # two ranges, one playback
    assert pages["evidence.viewed"] == 1 and pages["evidence.timeline_viewed"] == 1


# --- every staff route against every role ---------------------------------------------------------


def web_permissions(route: APIRoute) -> tuple[Permission, ...] | None:
    """The permissions a web route asks for (None: any staff member or public)."""

    def walk(dependant: Any) -> Iterator[Any]:
        for sub in dependant.dependencies:
            yield sub.call
            yield from walk(sub)

    for call in walk(route.dependant):
        found = getattr(call, "web_permissions", None)
        if found:
            return tuple(found)
    return None


def staff_only(route: APIRoute) -> bool:
    def walk(dependant: Any) -> Iterator[Any]:
        for sub in dependant.dependencies:
            yield sub.call
            yield from walk(sub)

    return any(call is web_staff for call in walk(route.dependant))


PUBLIC_WEB = {
    ("GET", "/web/"),
    ("POST", "/web/submissions"),
    ("GET", "/web/upload/{submission_id}"),
    ("GET", "/web/status"),
    ("POST", "/web/status"),
    ("GET", "/web/receipt"),
    ("POST", "/web/receipt"),
    ("POST", "/web/receipt/print"),  # opened by the receipt code, like the receipt
    ("POST", "/web/receipt/pdf"),
    ("POST", "/web/withdraw"),
    ("GET", "/web/static/{path:path}"),
    ("GET", "/web/about/log"),  # what the custody log and timestamps prove, for witnesses
    ("GET", "/web/r/{code}"),
    ("GET", "/web/staff/login"),
    ("POST", "/web/staff/login"),
    ("POST", "/web/staff/logout"),
    # Name and password, as at login: enrolling a second factor before the first sign-in.
    ("GET", "/web/staff/second-factor"),
    ("POST", "/web/staff/second-factor"),
    ("POST", "/web/staff/second-factor/confirm"),
    # Single sign-on: the way to the provider and back, before there is a session.
    ("GET", "/web/staff/oidc/start"),
    ("GET", "/web/staff/oidc/callback"),
    # A challenge for the sign-in form's passkey, for nobody in particular.
    ("POST", "/web/staff/login/passkey-options"),
    # A share's recipient: the code's sign-in, then the share's own session, checked against
    # the share (open, not expired, not revoked) on every request (test_shares.py).
    ("GET", "/web/share/{share_id}"),
    ("POST", "/web/share/{share_id}"),
    ("GET", "/web/share/{share_id}/items"),
    ("GET", "/web/share/{share_id}/items/{evidence_id}/proxy"),
    ("GET", "/web/share/{share_id}/items/{evidence_id}/content"),
    ("GET", "/web/share/{share_id}/bundle"),
    ("POST", "/web/share/{share_id}/logout"),
    ("GET", "/web/{path:path}"),
}


def test_every_web_route_against_every_role(web: TestClient, video: Path) -> None:
    _, _, evidence_id = received(web, video, contact=CONTACT)
    rt = runtime(web)
    with transaction(rt.sessions) as db:
        from portal.cases import service as cases
        from portal.flows import changes as change_flows
        from portal.retention import service as retention

        owner = add_user(db, name="owner", role="supervisor", password=PASSWORD, now=rt.clock())
        case_id = cases.create(db, user=owner, title="C", reference=None, now=rt.clock()).id
        hold_id = retention.place_hold(
            db,
            rt.retention,
            user=owner,
            evidence_id=evidence_id,
            reason="court order",
            case_reference=None,
            now=rt.clock(),
        ).id
        lowered = change_flows.change_policy(
            db,
            rt.retention,
            user=owner,
            category="no-case",
            keep_days=30,
            trigger="triage",
            approvals_required=0,
            now=rt.clock(),
        )
        assert lowered.request is not None
        request_id = lowered.request.id
    with transaction(rt.sessions) as db:
        from portal.requests import service as requests
        from portal.requests.schemas import RequestCreate

        body = RequestCreate.model_validate(request_body(case_id, rt.clock()))
        req = requests.create(db, user=owner, body=body, recipient_key=b"", now=rt.clock())
        req_id, code = req.id, req.code
    ids = {
        "evidence_id": evidence_id,
        "case_id": case_id,
        "hold_id": hold_id,
        "request_id": request_id,
        "evidence_request_id": req_id,
        "artifact": "qr.png",
        "code": code,
        "session_id": "0" * 32,  # none such: not found for whoever may ask
        "passkey_id": "0" * 32,
        "redaction_id": "0" * 32,  # none such either
        "share_id": "0" * 32,
        "user_id": "0" * 32,  # no such account: refused, nothing asked
    }
    forms: dict[str, dict[str, Any]] = {
        "/web/staff/evidence/{evidence_id}/triage": {"decision": "accept", "reason": "fine"},
        "/web/staff/evidence/{evidence_id}/link": {"case_id": case_id},
        "/web/staff/evidence/{evidence_id}/unlink": {"case_id": case_id},
        "/web/staff/evidence/{evidence_id}/holds": {"reason": "another order"},
        "/web/staff/holds/{hold_id}/release": {"reason": "order lifted"},
        "/web/staff/cases": {"title": "New"},
        "/web/staff/cases/{case_id}/close": {"offense": "felony"},
        "/web/staff/changes/{request_id}/confirm": {"confirm": "yes"},
        "/web/staff/passkeys": {"credential": "{}"},
        "/web/staff/redactions/{redaction_id}/approve": {"confirm": "yes"},
        "/web/staff/redactions/{redaction_id}/release": {"confirm": "yes"},
    }
    routes = [r for r in web_router.router.routes if isinstance(r, APIRoute)]
    assert len(routes) > 25
    clients = {"anonymous": another(web)}
    for role in MATRIX:
        clients[role] = another(web)
        web_login(clients[role], f"matrix-{role}", role)
    wrong: list[str] = []
    checked = 0
    for route in routes:
        for method in sorted(route.methods or ()):
            needed = web_permissions(route)
            if needed is None and not staff_only(route):
                assert (method, route.path) in PUBLIC_WEB, f"unguarded {method} {route.path}"
                continue
            url = route.path.format(**ids)
            for caller, client in clients.items():
                checked += 1
                csrf = csrf_of(client, "/web/staff/login")
                data = {"csrf": csrf, **forms.get(route.path, {})} if method == "POST" else None
                r = client.request(method, url, data=data, follow_redirects=False)
                if caller == "anonymous":
                    ok = r.status_code == 303 and "/web/staff/login" in r.headers["location"]
                elif needed is None or any(p in MATRIX[caller] for p in needed):
                    ok = r.status_code not in (401, 403) and r.status_code < 500
                else:
                    ok = r.status_code == 403
                if not ok:
                    wrong.append(f"{method} {route.path} as {caller}: {r.status_code}")
    assert checked > 80
    assert not wrong, "\n".join(wrong)
