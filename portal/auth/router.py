"""Staff login, logout, and account management."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Header
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from portal.auth import mfa, service, sessions
from portal.auth.models import StaffUser
from portal.auth.permissions import Permission, allowed
from portal.changes.schemas import ChangeRequestOut
from portal.db import transaction
from portal.deps import Admins, Managers, RuntimeDep, SettingsReader, StaffDep, rate_limited
from portal.errors import Forbidden, responses
from portal.flows import changes as change_flows

router = APIRouter(prefix="/api/v1", tags=["staff"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    role: str


class UserOut(BaseModel):
    id: str
    name: str
    role: str
    disabled: bool
    pending: bool
    """The role waits for a second admin's confirmation; the account cannot sign in yet."""
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    role: Literal["investigator", "supervisor", "auditor", "admin"]
    password: str = Field(min_length=service.MIN_PASSWORD, max_length=1024)


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["investigator", "supervisor", "auditor", "admin"]


def _out(u: StaffUser) -> UserOut:
    return UserOut(
        id=u.id,
        name=u.name,
        role=u.role,
        disabled=u.disabled,
        pending=u.pending,
        created_at=u.created_at,
    )


def _account(done: change_flows.AccountOutcome, status: int) -> UserOut | JSONResponse:
    if done.request is not None:
        out = ChangeRequestOut.of(done.request).model_dump(mode="json")
        return JSONResponse(out, status_code=202)
    return JSONResponse(_out(done.user).model_dump(mode="json"), status_code=status)


_PENDING_GRANT: dict[int | str, dict[str, Any]] = {
    202: {"model": ChangeRequestOut, "description": "Supervisor or admin: pending a second admin"}
}


CodeField = Annotated[str, Form(max_length=64)]


@router.post(
    "/auth/login", responses=responses(401, 403, 429), dependencies=[rate_limited("logins")]
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], rt: RuntimeDep, code: CodeField = ""
) -> TokenOut:
    """`code`: the TOTP code, or a recovery code, of an account with a second factor. A
    wrong one gets the same answer as a wrong password; 403 `second_factor_required` tells
    a right password whose account must enrol one first."""

    def run() -> service.LoginResult:
        with transaction(rt.sessions) as db:
            return service.login(
                db,
                name=form.username,
                password=form.password,
                policy=rt.login_policy,
                now=rt.clock(),
                code=code,
            )

    result = await run_in_threadpool(run)
    service.refuse(result)  # after the commit: the failure is on the record
    assert result.user is not None and result.token and result.expires_at
    return TokenOut(access_token=result.token, expires_at=result.expires_at, role=result.user.role)


class EnrolmentOut(BaseModel):
    secret: str
    """The TOTP secret (base32), for typing into an authenticator by hand."""
    otpauth_uri: str
    qr_svg: str
    """The provisioning URI as an SVG QR code."""


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]
    """Each signs in once in place of a TOTP code. Shown this once: only hashes are kept."""


PasswordForm = Annotated[OAuth2PasswordRequestForm, Depends()]


@router.post(
    "/auth/second-factor",
    responses=responses(401, 409, 429),
    dependencies=[rate_limited("logins")],
)
async def enrol_second_factor(form: PasswordForm, rt: RuntimeDep) -> EnrolmentOut:
    """Start enrolling a TOTP second factor (name and password, as at login); it is in
    force once /auth/second-factor/confirm receives its first code."""

    def run() -> tuple[service.LoginResult, mfa.Enrolment | None]:
        with transaction(rt.sessions) as db:
            return service.enrol(
                db,
                name=form.username,
                password=form.password,
                policy=rt.login_policy,
                now=rt.clock(),
            )

    result, enrolment = await run_in_threadpool(run)
    service.refuse(result)
    assert enrolment is not None
    return EnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg)


@router.post(
    "/auth/second-factor/confirm",
    responses=responses(401, 409, 429),
    dependencies=[rate_limited("logins")],
)
async def confirm_second_factor(
    form: PasswordForm, rt: RuntimeDep, code: Annotated[str, Form(max_length=64)]
) -> RecoveryCodesOut:
    """The first TOTP code puts the factor in force; a wrong one counts as a failed login."""

    def run() -> tuple[service.LoginResult, list[str] | None]:
        with transaction(rt.sessions) as db:
            return service.confirm_enrolment(
                db,
                name=form.username,
                password=form.password,
                code=code,
                policy=rt.login_policy,
                now=rt.clock(),
            )

    result, codes = await run_in_threadpool(run)
    service.refuse(result)
    assert codes is not None
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/users/{user_id}/second-factor/reset",
    status_code=202,
    responses=responses(401, 403, 404, 409),
)
def reset_second_factor(user_id: str, rt: RuntimeDep, user: StaffUser = Admins) -> ChangeRequestOut:
    """Ask to remove an account's second factor (it enrols anew at its next sign-in); a
    second admin confirms at /api/v1/changes."""
    with transaction(rt.sessions) as db:
        req = change_flows.request_second_factor_reset(db, by=user, user_id=user_id, now=rt.clock())
        return ChangeRequestOut.of(req)


@router.post("/auth/logout", status_code=204, responses=responses(401))
def logout(
    rt: RuntimeDep, user: StaffDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    with transaction(rt.sessions) as db:
        service.logout(db, token=_bearer(authorization), now=rt.clock())


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime
    current: bool
    """The session this request came with."""


def _bearer(authorization: str | None) -> str:
    return (authorization or "").partition(" ")[2].strip()


@router.get("/auth/sessions", responses=responses(401))
def my_sessions(
    rt: RuntimeDep, user: StaffDep, authorization: Annotated[str | None, Header()] = None
) -> list[SessionOut]:
    """The caller's sessions still in force."""
    current = service.token_hash(_bearer(authorization))
    with rt.sessions() as db:
        found = sessions.list_open(db, user=user, now=rt.clock(), current=current)
    return [SessionOut(**vars(s)) for s in found]


@router.delete("/auth/sessions/{session_id}", status_code=204, responses=responses(401, 404))
def end_my_session(session_id: str, rt: RuntimeDep, user: StaffDep) -> None:
    """End one of the caller's sessions (a phone left signed in, say); on every instance."""
    with transaction(rt.sessions) as db:
        sessions.end(db, user=user, by=user, now=rt.clock(), session_id=session_id)


@router.get("/users/{user_id}/sessions", responses=responses(401, 403, 404))
def user_sessions(user_id: str, rt: RuntimeDep, user: StaffUser = Admins) -> list[SessionOut]:
    with rt.sessions() as db:
        target = service.get_user(db, user_id=user_id)
        found = sessions.list_open(db, user=target, now=rt.clock())
    return [SessionOut(**vars(s)) for s in found]


@router.delete("/users/{user_id}/sessions", responses=responses(401, 403, 404))
def end_user_sessions(user_id: str, rt: RuntimeDep, user: StaffUser = Admins) -> dict[str, int]:
    """An admin ends every session of an account at once."""
    with transaction(rt.sessions) as db:
        target = service.get_user(db, user_id=user_id)
        return {"ended": sessions.end(db, user=target, by=user, now=rt.clock())}


@router.get("/auth/me", responses=responses(401))
def me(user: StaffDep) -> UserOut:
    return _out(user)


def _manageable_roles(user: StaffUser) -> tuple[str, ...]:
    if allowed(user.role, Permission.MANAGE_USERS):
        return ("investigator", "supervisor", "auditor", "admin")
    return ("investigator",)


@router.get("/users", responses=responses(401, 403))
def list_users(rt: RuntimeDep, user: StaffUser = Managers) -> list[UserOut]:
    with rt.sessions() as db:
        return [_out(u) for u in service.list_users(db, roles=_manageable_roles(user))]


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses={**_PENDING_GRANT, **responses(401, 403, 409)},
)
def create_user(
    body: UserCreate, rt: RuntimeDep, user: StaffUser = Managers
) -> UserOut | JSONResponse:
    """Investigator and auditor accounts are created at once (201); a supervisor or admin
    account is created pending, unable to sign in, with a change request (202) that a second
    admin confirms at /api/v1/changes."""
    if body.role not in _manageable_roles(user):
        raise Forbidden(f"a {user.role} may not create {body.role} accounts")
    with transaction(rt.sessions) as db:
        done = change_flows.create_account(
            db, by=user, name=body.name, role=body.role, password=body.password, now=rt.clock()
        )
        return _account(done, 201)


@router.post(
    "/users/{user_id}/role",
    response_model=UserOut,
    responses={**_PENDING_GRANT, **responses(401, 403, 404, 409)},
)
def change_role(
    user_id: str, body: RoleChange, rt: RuntimeDep, user: StaffUser = Admins
) -> UserOut | JSONResponse:
    """Any other role applies at once (200); granting supervisor or admin is a request (202)."""
    with transaction(rt.sessions) as db:
        done = change_flows.change_role(
            db, by=user, user_id=user_id, role=body.role, now=rt.clock()
        )
        return _account(done, 200)


@router.post("/users/{user_id}/disable", responses=responses(401, 403, 404))
def disable_user(user_id: str, rt: RuntimeDep, user: StaffUser = Managers) -> UserOut:
    with transaction(rt.sessions) as db:
        target = service.get_user(db, user_id=user_id)
        if target.role not in _manageable_roles(user):
            raise Forbidden(f"a {user.role} may not disable {target.role} accounts")
        return _out(service.disable_user(db, user=target, now=rt.clock(), by=user))


@router.get("/settings", responses=responses(401, 403))
def settings(rt: RuntimeDep, user: StaffUser = SettingsReader) -> dict[str, str]:
    """The running settings, with passwords in URLs masked."""
    out = {k: str(v) for k, v in rt.settings.model_dump().items()}
    for k in ("database_url", "storage_url"):
        if "@" in out[k]:
            out[k] = make_url(out[k]).render_as_string(hide_password=True)
    return out
