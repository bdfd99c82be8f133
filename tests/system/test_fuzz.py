"""Schemathesis against a running `portal serve`: every operation in /openapi.json, once per role.

Roles: anonymous (no credentials, or whatever the generated Authorization header holds), a
witness (the bearer token of a real submission) and every staff role in the permission
matrix (bearer session tokens from /api/v1/auth/login). Each role gets its own server process
and the same small world: a submission with one received video and one unfinished upload, a
case holding the video, a hold on it, and the staff accounts. Path parameters and tus headers
are drawn from generated values and values that world knows, so requests get past 404 and 412
into the handlers.

Each operation runs schemathesis' coverage phase (boundary and malformed values) and EXAMPLES
generated cases, positive and negative. Checks: no 5xx, and every status, content type, body
and Allow header is the one the schema documents. Any failure fails the test; generation is
derandomized, so a run in CI repeats exactly.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.app import create_app
from portal.auth.permissions import MATRIX
from portal.clock import utcnow
from portal.config import Settings
from tests.support.api import CONSENT, PASSWORD
from tests.support.requests import request_body
from tests.support.servers import Server
from tests.support.uploads import OCTET, TUS, b64, create_upload, patch, upload

STAFF_ROLES = tuple(MATRIX)
ROLES = ("anonymous", "witness", *STAFF_ROLES)
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    allow_header_conformance,
]
EXAMPLES = 20

# tus bodies are plain bytes under their own media type.
schemathesis.serializer.alias(OCTET["Content-Type"], "application/octet-stream")


def staff_name(role: str) -> str:
    return f"fuzz-{role}"


@dataclass
class World:
    """One server's seeded data and the credentials of the role under test."""

    server: Server
    role: str
    auth: dict[str, str]
    ids: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, timeout=30)

    def login(self, role: str) -> dict[str, str]:
        with self.http() as c:
            r = c.post(
                "/api/v1/auth/login", data={"username": staff_name(role), "password": PASSWORD}
            )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def witness(self) -> tuple[str, dict[str, str]]:
        with self.http() as c:
            r = c.post("/api/v1/submissions", json={"consent": CONSENT})
        assert r.status_code == 201, r.text
        return r.json()["id"], {"Authorization": f"Bearer {r.json()['witness_token']}"}

    def headers_for(self, case: schemathesis.Case[Any]) -> dict[str, str]:
        """The role's credentials; operations that end them get throwaway ones."""
        op = f"{case.method.upper()} {case.operation.path}"
        if op == "POST /api/v1/auth/logout" and self.role in STAFF_ROLES:
            return self.login(self.role)
        if op == "POST /api/v1/submissions/{submission_id}/withdrawal" and self.role == "witness":
            sub_id, auth = self.witness()
            if case.path_parameters and case.path_parameters.get("submission_id") in self.ids.get(
                "submission_id", []
            ):
                case.path_parameters["submission_id"] = sub_id
            return auth
        return self.auth


def cli_add_user(server: Server, name: str, role: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "portal",
            "users",
            "add",
            name,
            "--role",
            role,
            "--data-dir",
            str(server.data_dir),
        ],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


def seed(server: Server, role: str, video: Path) -> World:
    """Staff accounts through the CLI and the API; evidence through a real tus upload."""
    # The first admin at once; the supervisor, made by the operator, waits for that admin.
    cli_add_user(server, staff_name("admin"), "admin")
    cli_add_user(server, staff_name("supervisor"), "supervisor")
    world = World(server=server, role=role, auth={})
    staff = {"admin": world.login("admin")}
    user_ids: dict[str, str] = {}
    with world.http() as c:
        r = c.get("/api/v1/auth/me", headers=staff["admin"])
        assert r.status_code == 200, r.text
        user_ids["admin"] = r.json()["id"]
        (grant,) = c.get("/api/v1/changes", headers=staff["admin"]).json()
        r = c.post(f"/api/v1/changes/{grant['id']}/confirm", headers=staff["admin"])
        assert r.status_code == 200, r.text
        user_ids["supervisor"] = grant["target"]
        staff["supervisor"] = world.login("supervisor")
        for other in ("investigator", "auditor"):
            r = c.post(
                "/api/v1/users",
                json={"name": staff_name(other), "role": other, "password": PASSWORD},
                headers=staff["admin"],
            )
            assert r.status_code == 201, r.text
            user_ids[other] = r.json()["id"]
            staff[other] = world.login(other)
        # A pending change request, so that confirm and withdraw meet a real one.
        r = c.put(
            "/api/v1/retention/policies/no-case",
            json={"keep_days": 30, "trigger": "triage", "approvals_required": 0},
            headers=staff["supervisor"],
        )
        assert r.status_code == 202, r.text
        request_id = r.json()["id"]

        r = c.post(
            "/api/v1/submissions",
            json={
                "consent": CONSENT,
                "contact": {"name": "Ana", "email": "ana@example.org"},
                "incident": {"place": "Plaza Mayor", "description": "the balcony"},
            },
        )
        assert r.status_code == 201, r.text
        sub_id, witness = r.json()["id"], {"Authorization": f"Bearer {r.json()['witness_token']}"}
        upload(c, witness, video.read_bytes(), name="balcony.mp4")
        unfinished = create_upload(c, witness, 1000, name="half.mp4")
        assert patch(c, unfinished, witness, 0, b"\0" * 100).status_code == 204

        inv = staff["investigator"]
        (item,) = c.get("/api/v1/evidence", headers=inv).json()["items"]
        r = c.post("/api/v1/cases", json={"title": "Balcony", "reference": "C-1"}, headers=inv)
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        r = c.post(
            f"/api/v1/cases/{case_id}/evidence", json={"evidence_id": item["id"]}, headers=inv
        )
        assert r.status_code == 204, r.text
        r = c.post(
            f"/api/v1/evidence/{item['id']}/holds",
            json={"reason": "court order 12"},
            headers=staff["supervisor"],
        )
        assert r.status_code == 201, r.text
        hold_id = r.json()["id"]
        policies = c.get("/api/v1/retention/policies", headers=staff["supervisor"]).json()
        r = c.post("/api/v1/requests", json=request_body(case_id, utcnow()), headers=inv)
        assert r.status_code == 201, r.text
        evidence_request = r.json()

    world.ids = {
        "submission_id": [sub_id],
        "upload_id": [unfinished.rsplit("/", 1)[1]],
        "evidence_id": [item["id"]],
        "case_id": [case_id],
        "hold_id": [hold_id],
        "request_id": [request_id],
        "category": [p["category"] for p in policies],
        "evidence_request_id": [evidence_request["id"]],
        "code": [evidence_request["code"]],
        "artifact": ["qr.png", "qr.svg", "poster.pdf"],
        # Never the account under test: disabling it would end the run's credentials.
        "user_id": [uid for r, uid in user_ids.items() if r != role],
    }
    world.headers = {
        "tus-resumable": [TUS["Tus-Resumable"]],
        "content-type": [OCTET["Content-Type"]],
        "upload-offset": ["0", "100"],
        "upload-length": ["1000"],
        "upload-defer-length": ["1"],
        "upload-metadata": [f"filename {b64('clip.mp4')}", "filename"],
        "upload-checksum": [f"sha1 {b64(hashlib.sha1(b'').digest())}"],
        "range": ["bytes=0-99", "bytes=1000-", "bytes=-10"],
    }
    if role == "witness":
        world.auth = witness
    elif role in STAFF_ROLES:
        world.auth = staff[role]
    return world


# The world of the role whose tests run now (items run grouped by the module-scoped world).
CURRENT: dict[str, World] = {}


@pytest.fixture(scope="module", params=ROLES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, video: Path
) -> Iterator[World]:
    # One server per role, not per operation: the same `portal serve` process as the
    # `server` fixture, kept for all of the role's operations so the run stays short.
    role = str(request.param)
    # Rate limits off: hundreds of submissions and uploads from one address are the point.
    env = {
        "PORTAL_RATE_LIMIT_SUBMISSIONS": "0",
        "PORTAL_RATE_LIMIT_UPLOADS": "0",
        "PORTAL_RATE_LIMIT_REQUEST_LOOKUPS": "0",
        "PORTAL_RATE_LIMIT_REQUEST_ANSWERS": "0",
        "PORTAL_RATE_LIMIT_LOGINS": "0",
        "PORTAL_MAX_UNFINISHED_PER_CLIENT": "0",
    }
    server = Server(tmp_path_factory.mktemp(f"fuzz-{role}") / "data", env=env).start()
    try:
        CURRENT["world"] = seed(server, role, video)
        yield CURRENT["world"]
    finally:
        CURRENT.clear()
        server.stop()


# Taken from the app at import, so every operation is a test item of its own (schemathesis'
# fixture-loaded schemas run all operations inside one item, and not at all on pytest 9.2).
# The first test checks the running server serves exactly this document.
OPENAPI = create_app(Settings(data_dir=Path("unused"))).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_running_server_serves_the_fuzzed_schema(world: World) -> None:
    with world.http() as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200
    assert r.json() == OPENAPI


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: Any) -> Any:
    """Each path parameter stays as generated or becomes an id the server knows, so
    requests get past the 404 into the handler."""
    known = CURRENT["world"].ids
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([value, *known[name]]) if name in known else st.just(value)
            for name, value in (path_parameters or {}).items()
        }
    )


@schema.hook
def flatmap_headers(context: schemathesis.HookContext, headers: Any) -> Any:
    """Three in four times a header the server knows values for gets one: several must line
    up (tus version, content type, offset) for a PATCH to get into the upload."""
    known = CURRENT["world"].headers
    assert context.operation is not None
    names = [p.name for p in context.operation.headers if p.name.lower() in known]

    def apply(picks: tuple[tuple[int, str], ...]) -> dict[str, Any]:
        out = dict(headers or {})
        out.update((name, value) for name, (use, value) in zip(names, picks, strict=True) if use)
        return out

    picks = [st.tuples(st.integers(0, 3), st.sampled_from(known[n.lower()])) for n in names]
    return st.tuples(*picks).map(apply)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # Generation speed depends on the machine; it says nothing about the portal.
    suppress_health_check=[HealthCheck.too_slow],
)
@schema.parametrize()
def test_every_operation(case: schemathesis.Case[Any], world: World) -> None:
    case.call_and_validate(
        base_url=world.server.url, headers=world.headers_for(case), checks=CHECKS
    )
