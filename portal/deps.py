"""FastAPI dependency aliases shared by routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from portal.auth import service as staff_auth
from portal.auth.models import StaffUser
from portal.auth.permissions import Permission, ensure_any
from portal.auth.witness import bearer
from portal.errors import Unauthorized
from portal.ratelimit.service import Bucket
from portal.runtime import Runtime
from portal.submissions import service as submissions
from portal.submissions.models import Submission


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_witness(
    rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> Submission:
    token = bearer(authorization)
    with rt.readers() as db:
        return submissions.authenticate(db, token=token)


WitnessDep = Annotated[Submission, Depends(get_witness)]


def client_host(request: Request) -> str | None:
    """The client's address: the peer's, or the one a trusted proxy names (portal.app)."""
    return request.client.host if request.client else None


def rate_limited(bucket: Bucket) -> Any:
    """A dependency that counts the request against the client's `bucket` limit (429 past it).

    Counted before anything else the route does, so a refused request changes nothing."""

    def count(request: Request, rt: RuntimeDep) -> None:
        rt.count_request(bucket, client_host(request))

    return Depends(count)


def base_url(request: Request, rt: Runtime) -> str:
    return rt.settings.public_url or str(request.base_url).rstrip("/")


def get_staff(rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None) -> StaffUser:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("log in first (Authorization: Bearer <staff token>)")
    with rt.sessions() as db:
        return staff_auth.resolve(db, token=token.strip(), now=rt.clock())


StaffDep = Annotated[StaffUser, Depends(get_staff)]


def require(*permissions: Permission) -> Any:
    """A dependency that lets through staff holding any of `permissions`, per the matrix."""

    def check(user: StaffDep) -> StaffUser:
        ensure_any(user.role, permissions)
        return user

    check.permissions = permissions  # type: ignore[attr-defined]  # read by the matrix test
    return Depends(check)


# The API's permission aliases, one per idea, shared by the routers: `user: StaffUser = Reader`.
Reader = require(Permission.EVIDENCE_READ)
Player = require(Permission.EVIDENCE_CONTENT)
Triager = require(Permission.EVIDENCE_TRIAGE)
CaseWorker = require(Permission.CASES)
ContactViewer = require(Permission.WITNESS_CONTACT)
TimelineReader = require(Permission.EVIDENCE_READ, Permission.LOG)
RetentionManager = require(Permission.RETENTION)
Holder = require(Permission.HOLDS)
Approver = require(Permission.DISPOSITION)
ChangeConfirmer = require(Permission.CHANGES)
# Anyone who can ask for a change (a supervisor, or an investigator closing a case) sees the
# pending requests and withdraws their own.
ChangeRequester = require(Permission.CHANGES, Permission.CASES)
Auditor = require(Permission.LOG)
Managers = require(Permission.MANAGE_USERS, Permission.MANAGE_INVESTIGATORS)
Admins = require(Permission.MANAGE_USERS)
SettingsReader = require(Permission.SETTINGS)
