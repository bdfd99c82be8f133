"""Staff accounts, password login with lockout, and sessions: plain functions over a session."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import metrics
from portal.auth.models import ROLES, StaffSession, StaffUser
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from portal.ids import new_id

MIN_PASSWORD = 12
STAFF_TOKEN_PREFIX = "st_"
hasher = PasswordHasher()
# Verified against when the account does not exist, so timing does not reveal names.
_DUMMY_HASH = hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    lockout: timedelta
    session_ttl: timedelta


def add_user(
    db: Session,
    *,
    name: str,
    role: str,
    password: str,
    now: datetime,
    by: StaffUser | None = None,
    pending: bool = False,
) -> StaffUser:
    """Create an account. A `pending` one cannot sign in until `grant_role` activates it (the
    password hash stays in this row: the log and the change request never carry it)."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", code="bad_role")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"passwords need at least {MIN_PASSWORD} characters", code="weak_password")
    if db.scalar(select(StaffUser).where(StaffUser.name == name)) is not None:
        raise Conflict(f"a staff account named {name!r} exists", code="user_exists")
    user = StaffUser(
        id=new_id(),
        name=name,
        role=role,
        password_hash=hasher.hash(password),
        created_at=now,
        failed_logins=0,
        disabled=False,
        pending=pending,
    )
    db.add(user)
    db.flush()
    details: dict[str, object] = {"name": name, "role": role}
    if pending:
        details["pending"] = True
    custody.append(
        db,
        type=EventType.STAFF_CREATED,
        actor=by.actor if by else custody.SYSTEM,
        subject=user.id,
        details=details,
        at=now,
    )
    return user


def role_state(user: StaffUser) -> dict[str, object]:
    """What a role change request saw of its target; a confirmation applies only if the
    account still stands so (not disabled, not granted or changed meanwhile)."""
    return {"role": None if user.pending else user.role, "disabled": user.disabled}


def check_role_change(user: StaffUser, role: str) -> None:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", code="bad_role")
    if user.disabled:
        raise Conflict("the account is disabled", code="account_disabled")
    if user.pending:
        raise Conflict("the account waits for a confirmation of its role", code="account_pending")
    if user.role == role:
        raise Conflict(f"the account already has the {role} role", code="no_change")


def grant_role(
    db: Session, *, user: StaffUser, role: str, now: datetime, by: StaffUser | None = None
) -> StaffUser:
    """Give `user` the role `role` (activating a pending account); logged."""
    details = {"name": user.name, "from": role_state(user)["role"], "to": role}
    user.role, user.pending = role, False
    custody.append(
        db,
        type=EventType.STAFF_ROLE_CHANGED,
        actor=by.actor if by else custody.SYSTEM,
        subject=user.id,
        details=details,
        at=now,
    )
    return user


def list_users(db: Session, *, roles: tuple[str, ...] = ROLES) -> list[StaffUser]:
    return list(
        db.scalars(select(StaffUser).where(StaffUser.role.in_(roles)).order_by(StaffUser.name))
    )


def names_of(db: Session, *, user_ids: set[str]) -> dict[str, str]:
    """Display names by account id (for a custody timeline); unknown ids are left out."""
    if not user_ids:
        return {}
    return {u.id: u.name for u in db.scalars(select(StaffUser).where(StaffUser.id.in_(user_ids)))}


def get_user(db: Session, *, user_id: str) -> StaffUser:
    user = db.get(StaffUser, user_id)
    if user is None:
        raise NotFound("no such staff account")
    return user


def disable_user(
    db: Session, *, user: StaffUser, now: datetime, by: StaffUser | None = None
) -> StaffUser:
    """Disable an account and end its sessions (accounts are never deleted: the log names them)."""
    user.disabled = True
    for s in db.scalars(
        select(StaffSession).where(
            StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None)
        )
    ):
        s.revoked_at = now
    custody.append(
        db,
        type=EventType.STAFF_DISABLED,
        actor=by.actor if by else custody.SYSTEM,
        subject=user.id,
        details={"name": user.name},
        at=now,
    )
    return user


def find_user(db: Session, *, name: str) -> StaffUser:
    user = db.scalar(select(StaffUser).where(StaffUser.name == name))
    if user is None:
        raise NotFound(f"no staff account named {name!r}")
    return user


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    token: str | None
    expires_at: datetime | None
    failure: str | None


def login(
    db: Session, *, name: str, password: str, policy: LoginPolicy, now: datetime
) -> LoginResult:
    """Check a password. Failures are recorded (and committed by the caller) before refusing."""
    user = db.scalar(select(StaffUser).where(StaffUser.name == name))
    if user is None:
        _verify(_DUMMY_HASH, password)
        return _failed(db, None, "unknown_account", now)
    if user.disabled or user.pending:
        _verify(_DUMMY_HASH, password)
        return _failed(db, user, "pending" if user.pending else "disabled", now)
    if user.locked_until is not None and as_utc(user.locked_until) > now:
        return _failed(db, user, "locked", now)
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failures:
            user.locked_until = now + policy.lockout
            user.failed_logins = 0
        return _failed(db, user, "bad_password", now)
    user.failed_logins = 0
    user.locked_until = None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    token, expires = open_session(db, user=user, now=now, ttl=policy.session_ttl)
    custody.append(
        db,
        type=EventType.STAFF_LOGIN,
        actor=user.actor,
        subject=user.id,
        details={"expires_at": custody.rfc3339(expires)},
        at=now,
    )
    return LoginResult(user, token, expires, None)


def _verify(stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _failed(db: Session, user: StaffUser | None, reason: str, now: datetime) -> LoginResult:
    metrics.LOGIN_FAILURES.labels(reason).inc()
    custody.append(
        db,
        type=EventType.STAFF_LOGIN_FAILED,
        # The typed name is not logged: people type passwords into the name field.
        actor=user.actor if user else "anonymous",
        subject=user.id if user else "unknown",
        details={"reason": reason},
        at=now,
    )
    return LoginResult(user, None, None, reason)


def refuse(result: LoginResult) -> None:
    """Turn a failed login into the error the caller shows (after its commit)."""
    if result.failure == "locked":
        raise Forbidden(
            "too many failed logins; the account is locked for a while", code="account_locked"
        )
    if result.failure is not None:
        raise Unauthorized("wrong name or password", code="bad_credentials")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    db: Session, *, user: StaffUser, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    token = STAFF_TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = now + ttl
    db.add(
        StaffSession(
            token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=expires
        )
    )
    return token, expires


def resolve(db: Session, *, token: str, now: datetime) -> StaffUser:
    """The staff member behind a session token, or Unauthorized."""
    if not token.startswith(STAFF_TOKEN_PREFIX):
        raise Unauthorized("a staff session is required")
    session = db.get(StaffSession, token_hash(token))
    if session is None or session.revoked_at is not None or as_utc(session.expires_at) <= now:
        raise Unauthorized("the session is not valid or has expired; log in again")
    user = db.get(StaffUser, session.user_id)
    if user is None or user.disabled or user.pending:
        raise Unauthorized("the account is disabled")
    return user


def logout(db: Session, *, token: str, now: datetime) -> None:
    session = db.get(StaffSession, token_hash(token))
    if session is None or session.revoked_at is not None:
        return
    session.revoked_at = now
    user = db.get(StaffUser, session.user_id)
    custody.append(
        db,
        type=EventType.STAFF_LOGOUT,
        actor=user.actor if user else custody.SYSTEM,
        subject=session.user_id,
        details={},
        at=now,
    )
