"""The permission matrix, every route against every caller.

What a route demands is read from the route itself (its `require(...)` dependency, or
`get_witness`), and what each caller may do from `MATRIX`; nothing here lists which role may
call which route. The permission table in docs/api.md is checked against `MATRIX` too.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.auth.models import StaffUser
from portal.auth.permissions import MATRIX, Permission
from portal.auth.service import add_user, open_session
from portal.clock import utcnow
from portal.db import transaction
from portal.deps import get_staff, get_witness
from tests.support import REPO
from tests.support.api import CONSENT, PASSWORD, new_submission
from tests.support.redaction import probed
from tests.support.requests import request_body
from tests.support.routes import PUBLIC, Endpoint, api_routes, calls, guard_of
from tests.support.uploads import TUS, b64, create_upload, upload

pytestmark = pytest.mark.both_backends

PERMISSIONS_DOC = REPO / "docs" / "api.md"

STAFF_ROLES = tuple(MATRIX)
CALLERS = ("anonymous", "witness", *STAFF_ROLES)


def path_params(path: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(path) if name]


# --- the test ----------------------------------------------------------------------------------


def test_every_route_is_classified() -> None:
    endpoints = api_routes(create_app())
    seen = {(e.method, e.path) for e in endpoints}
    # Guard against a route walk that silently finds nothing.
    assert ("POST", "/api/v1/auth/login") in seen and len(seen) > 20, sorted(seen)
    unclassified = [f"{e.method} {e.path}" for e in endpoints if guard_of(e) is None]
    assert not unclassified, (
        "routes with no witness or staff dependency that are not listed in PUBLIC "
        f"(or with both): {unclassified}"
    )
    stale = PUBLIC - seen
    assert not stale, f"PUBLIC names routes that do not exist: {sorted(stale)}"
    guarded = sorted(
        f"{e.method} {e.path}" for e in endpoints if (e.method, e.path) in PUBLIC and calls_auth(e)
    )
    assert not guarded, f"PUBLIC lists routes that are guarded: {guarded}"


def calls_auth(endpoint: Endpoint) -> bool:
    deps = list(calls(endpoint.dependant))
    return get_witness in deps or get_staff in deps or any(hasattr(d, "permissions") for d in deps)


@dataclass
class World:
    """Real ids for every path parameter, and a token source for every caller."""

    client: TestClient
    ids: dict[str, str]
    witness_headers: dict[str, str]
    staff_ids: dict[str, str]
    login_name: str

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller == "witness":
            return dict(self.witness_headers)
        # A fresh session for every call, so logging out in one call ends nothing else.
        rt = self.client.app.state.runtime  # type: ignore[attr-defined]
        with transaction(rt.sessions) as db:
            user = db.get(StaffUser, self.staff_ids[caller])
            assert user is not None
            token, _ = open_session(db, user=user, now=rt.clock(), ttl=rt.settings.session_ttl)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(client: TestClient, video: Path) -> World:
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    sub_id, token = new_submission(
        client, contact={"name": "Ana Witness", "email": "ana@example.org"}
    )
    witness = {"Authorization": f"Bearer {token}"}
    upload(client, witness, video.read_bytes(), name="balcony.mp4")
    unfinished = create_upload(client, witness, 1000, name="later.mp4").rsplit("/", 1)[1]
    files = client.get(f"/api/v1/submissions/{sub_id}", headers=witness).json()["files"]
    staff_ids = {}
    with transaction(rt.sessions) as db:
        for role in STAFF_ROLES:
            staff_ids[role] = add_user(
                db, name=f"matrix-{role}", role=role, password=PASSWORD, now=rt.clock()
            ).id
        target = add_user(
            db, name="matrix-target", role="investigator", password=PASSWORD, now=rt.clock()
        ).id
        add_user(db, name="matrix-login", role="auditor", password=PASSWORD, now=rt.clock())
    world = World(
        client=client,
        ids={
            "evidence_id": files[0]["id"],
            "submission_id": sub_id,
            "upload_id": unfinished,
            "user_id": target,
        },
        witness_headers=witness,
        staff_ids=staff_ids,
        login_name="matrix-login",
    )
    made = client.post(
        "/api/v1/cases", json={"title": "Matrix"}, headers=world.headers("investigator")
    )
    assert made.status_code == 201, made.text
    world.ids["case_id"] = made.json()["id"]
    asked = client.post(
        "/api/v1/requests",
        json=request_body(world.ids["case_id"], rt.clock()),
        headers=world.headers("investigator"),
    )
    assert asked.status_code == 201, asked.text
    world.ids["evidence_request_id"] = asked.json()["id"]
    world.ids["code"] = asked.json()["code"]
    world.ids["artifact"] = "qr.png"
    world.ids["session_id"] = "0" * 32  # none such: 404 for whoever may ask
    world.ids["share_id"] = "0" * 32  # likewise
    world.ids["category"] = "unreviewed"
    world.ids["size"] = "1"
    world.ids["path"] = "000"  # a log tile or entry bundle
    hold = client.post(
        f"/api/v1/evidence/{files[0]['id']}/holds",
        json={"reason": "court order 12"},
        headers=world.headers("supervisor"),
    )
    assert hold.status_code == 201, hold.text
    world.ids["hold_id"] = hold.json()["id"]
    lowered = client.put(
        "/api/v1/retention/policies/no-case",
        json={"keep_days": 30, "trigger": "triage", "approvals_required": 0},
        headers=world.headers("supervisor"),
    )
    assert lowered.status_code == 202, lowered.text
    world.ids["request_id"] = lowered.json()["id"]
    redaction = client.post(
        f"/api/v1/evidence/{probed(client, files[0]['id'])}/redactions",
        json=REDACTION,
        headers=world.headers("investigator"),
    )
    assert redaction.status_code == 201, redaction.text
    world.ids["redaction_id"] = redaction.json()["id"]
    return world


Request = dict[str, Any]
REDACTION = {"purpose": "disclosure", "operations": [{"type": "frame_blur", "start": 0, "end": 1}]}
_names = itertools.count()

# How to call a route so that an admitted caller gets a real answer (not a 422). Only the
# request is given here; who may call it comes from the route's dependencies.
REQUESTS: dict[tuple[str, str], Callable[[World], Request]] = {
    ("POST", "/api/v1/submissions"): lambda w: {"json": {"consent": CONSENT}},
    ("POST", "/api/v1/uploads"): lambda w: {
        "headers": {**TUS, "Upload-Length": "10", "Upload-Metadata": f"filename {b64('a.mp4')}"}
    },
    ("HEAD", "/api/v1/uploads/{upload_id}"): lambda w: {"headers": TUS},
    ("PATCH", "/api/v1/uploads/{upload_id}"): lambda w: {
        "headers": {
            **TUS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0",
        },
        "content": b"",
    },
    ("DELETE", "/api/v1/uploads/{upload_id}"): lambda w: {"headers": TUS},
    ("GET", "/api/v1/log/proof/inclusion"): lambda w: {"params": {"index": 0, "tree_size": 1}},
    ("GET", "/api/v1/log/entries"): lambda w: {"params": {"start": 0, "end": 1}},
    ("POST", "/api/v1/auth/login"): lambda w: {
        "data": {"username": w.login_name, "password": PASSWORD}
    },
    ("POST", "/api/v1/users"): lambda w: {
        "json": {"name": f"made-{next(_names)}", "role": "investigator", "password": PASSWORD}
    },
    ("POST", "/api/v1/evidence/{evidence_id}/triage"): lambda w: {
        "json": {"decision": "accept", "reason": "looks genuine"}
    },
    ("GET", "/api/v1/evidence/{evidence_id}/content"): lambda w: {
        "headers": {"Range": "bytes=0-99"}
    },
    ("POST", "/api/v1/cases"): lambda w: {"json": {"title": "Another case"}},
    ("POST", "/api/v1/evidence/{evidence_id}/redactions"): lambda w: {"json": REDACTION},
    ("POST", "/api/v1/shares"): lambda w: {
        "json": {"case_id": w.ids["case_id"], "recipient": "Lic. Ruiz", "days": 7}
    },
    ("POST", "/api/v1/cases/{case_id}/evidence"): lambda w: {
        "json": {"evidence_id": w.ids["evidence_id"]}
    },
    ("PUT", "/api/v1/retention/policies/{category}"): lambda w: {
        "json": {"keep_days": 400, "trigger": "receipt", "approvals_required": 0}
    },
    ("PUT", "/api/v1/evidence/{evidence_id}/retention"): lambda w: {
        "json": {"until": "2040-01-01T00:00:00Z", "reason": "long trial"}
    },
    ("POST", "/api/v1/evidence/{evidence_id}/holds"): lambda w: {
        "json": {"reason": "another order"}
    },
    ("POST", "/api/v1/holds/{hold_id}/release"): lambda w: {"json": {"reason": "order lifted"}},
    ("POST", "/api/v1/cases/{case_id}/close"): lambda w: {"json": {}},
    ("POST", "/api/v1/requests"): lambda w: {"json": request_body(w.ids["case_id"], utcnow())},
    ("PATCH", "/api/v1/requests/{evidence_request_id}"): lambda w: {
        "json": {k: v for k, v in request_body("", utcnow()).items() if k != "case_id"}
    },
    ("POST", "/api/v1/requests/{evidence_request_id}/recipient"): lambda w: {
        "json": {"name": "Rosa", "phone": "555 0101"}
    },
}


def no_extras(world: World) -> Request:
    return {}


def outcome_ok(expected: int | str, r: Any, method: str) -> bool:
    if expected == 401:
        return bool(r.status_code == 401 and (method == "HEAD" or r.json()["error"]))
    if expected == 403:
        return bool(r.status_code == 403 and r.json()["error"] == "forbidden")
    if r.status_code == 403:
        # Admitted by role, refused by the object: a change request of a kind this role does
        # not confirm (supervisors confirm rules, admins confirm role grants).
        return bool(r.json()["error"] == "wrong_confirmer")
    return bool(r.status_code != 401 and r.status_code < 500)


def test_every_route_answers_every_caller_as_the_matrix_says(world: World) -> None:
    client = world.client
    endpoints = api_routes(client.app)  # type: ignore[arg-type]
    assert endpoints
    rows: list[tuple[str, str, str, str, int]] = []
    wrong: list[str] = []
    for endpoint in endpoints:
        guard = guard_of(endpoint)
        assert guard is not None, f"unclassified route {endpoint.method} {endpoint.path}"
        missing = [p for p in path_params(endpoint.path) if p not in world.ids]
        assert not missing, f"the fixture has no real id for {missing} ({endpoint.path})"
        url = endpoint.path.replace(":path}", "}").format(**world.ids)
        for caller in CALLERS:
            if guard.admits(caller):
                expected: int | str = "allowed"
            elif caller in MATRIX and guard.kind == "staff":
                expected = 403
            else:
                expected = 401  # anonymous; a witness on staff routes; staff on witness routes
            spec = REQUESTS.get((endpoint.method, endpoint.path), no_extras)(world)
            headers = {**spec.pop("headers", {}), **world.headers(caller)}
            r = client.request(endpoint.method, url, headers=headers, **spec)
            rows.append((endpoint.method, endpoint.path, caller, str(expected), r.status_code))
            if not outcome_ok(expected, r, endpoint.method):
                wrong.append(
                    f"{endpoint.method} {endpoint.path} as {caller}: expected {expected}, "
                    f"got {r.status_code} {r.text[:200]}"
                )
    assert len(rows) == len(endpoints) * len(CALLERS)
    assert not wrong, "\n".join(wrong)


# --- docs/api.md -------------------------------------------------------------------------------


def expected_readme_table() -> str:
    roles = list(MATRIX)
    lines = [
        "| permission | " + " | ".join(roles) + " |",
        "|" + "---|" * (len(roles) + 1),
    ]
    for p in Permission:
        cells = ["yes" if p in MATRIX[role] else "" for role in roles]
        lines.append(f"| `{p.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cells(line: str) -> list[str]:
    text = line.strip()
    text = text[1:] if text.startswith("|") else text
    text = text[:-1] if text.endswith("|") else text
    return [c.strip() for c in text.split("|")]


def readme_permission_table(text: str) -> tuple[list[str], dict[str, list[str]]] | None:
    """(role columns, {permission: cells}) of the table whose header starts `| permission |`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("| permission |"):
            header = _cells(line)[1:]
            rows: dict[str, list[str]] = {}
            for row in lines[i + 2 :]:
                if not row.strip().startswith("|"):
                    break
                first, *rest = _cells(row)
                rows[first.strip("`")] = rest
            return header, rows
    return None


def test_readme_permission_table_matches_the_matrix() -> None:
    hint = f"docs/api.md needs this table:\n\n{expected_readme_table()}\n"
    table = readme_permission_table(PERMISSIONS_DOC.read_text(encoding="utf-8"))
    assert table is not None, "no table starting `| permission |` in docs/api.md. " + hint
    roles, rows = table
    assert sorted(roles) == sorted(MATRIX), hint
    assert set(rows) == {p.value for p in Permission}, hint
    for permission, cells in rows.items():
        assert len(cells) == len(roles), f"row {permission} has {len(cells)} cells. {hint}"
        for role, cell in zip(roles, cells, strict=True):
            want = "yes" if Permission(permission) in MATRIX[role] else ""
            assert cell == want, f"{permission} / {role}: docs/api.md says {cell!r}. {hint}"


def test_the_expected_readme_table_parses_back_to_the_matrix() -> None:
    parsed = readme_permission_table("intro\n\n" + expected_readme_table() + "\n\nmore")
    assert parsed is not None
    roles, rows = parsed
    assert roles == list(MATRIX)
    for permission, cells in rows.items():
        held = {role for role, cell in zip(roles, cells, strict=True) if cell == "yes"}
        assert held == {r for r in MATRIX if Permission(permission) in MATRIX[r]}
