"""Staff accounts, password login with lockout, and sessions: plain functions over a session."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import metrics, throttle
from portal.auth import mfa, passkeys
from portal.auth.models import ROLES, StaffSession, StaffUser
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from portal.ids import new_id

MIN_PASSWORD = 12
STAFF_TOKEN_PREFIX = "st_"
# The refusal of a right password whose account must enrol a second factor first.
NOT_ENROLLED = "second_factor_not_enrolled"
# Argon2id with RFC 9106's second recommended profile, named rather than left to the
# library's defaults: 64 MiB of memory, 3 passes, 4 lanes, 16-byte salt, 32-byte hash.
# Hashes made under other parameters are redone at the next successful login.
hasher = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
# Each try holds 64 MiB while it runs: at most this many at once, so a flood of logins
# queues instead of exhausting memory.
_HASHING = threading.BoundedSemaphore(4)
# Verified against when the account does not exist, so timing does not reveal names.
_DUMMY_HASH = hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    lockout: timedelta
    session_ttl: timedelta
    # Roles that may not sign in without a second factor (PORTAL_SECOND_FACTOR_ROLES).
    second_factor_roles: frozenset[str] = frozenset()
    # Seals TOTP secrets at rest (the contact key: portal.keys.ContactCipher).
    sealer: mfa.Sealer | None = None

    @property
    def secret_sealer(self) -> mfa.Sealer:
        if self.sealer is None:
            raise RuntimeError("a login policy without a sealer cannot handle second factors")
        return self.sealer


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
    end_sessions(db, user=user, now=now)
    custody.append(
        db,
        type=EventType.STAFF_DISABLED,
        actor=by.actor if by else custody.SYSTEM,
        subject=user.id,
        details={"name": user.name},
        at=now,
    )
    return user


def end_sessions(db: Session, *, user: StaffUser, now: datetime) -> int:
    """End every open session of `user` (in the database, so on every instance at once)."""
    ended = 0
    for s in db.scalars(
        select(StaffSession).where(
            StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None)
        )
    ):
        s.revoked_at = now
        ended += 1
    return ended


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
    db: Session,
    *,
    name: str,
    password: str,
    policy: LoginPolicy,
    now: datetime,
    code: str = "",
    passkey: str = "",
    rp: passkeys.RelyingParty | None = None,
) -> LoginResult:
    """Check a password, and the second factor (TOTP or recovery `code`, or a `passkey`
    assertion checked for `rp`) of an account that has one. Failures are recorded (and
    committed by the caller) before refusing.

    Every path runs argon2 once and every refusal looks the same to the caller, so neither
    answer nor time tells an unknown name, a wrong password, a wrong or replayed code, a
    disabled account or a try inside an account's wait apart. Only the right password of an
    account that must have a second factor and has none yet is told to enrol one."""
    user, failure = _check_password(db, name=name, password=password, policy=policy, now=now)
    if user is None or failure is not None:
        return _failed(db, user, failure or "unknown_account", now)
    has_totp = mfa.factor(db, user=user) is not None
    method: str | None = None
    if has_totp or passkeys.count(db, user=user):
        method, reason = _second_factor(
            db, user, code, passkey, rp, has_totp, now, sealer=policy.secret_sealer
        )
        if method is None:
            return second_factor_failed(db, user=user, policy=policy, now=now, reason=reason)
    elif user.role in policy.second_factor_roles:
        return _failed(db, user, NOT_ENROLLED, now)
    user.failed_logins = 0
    user.locked_until = None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    token, expires = open_session(db, user=user, now=now, ttl=policy.session_ttl)
    details: dict[str, object] = {"expires_at": custody.rfc3339(expires)}
    if method is not None:
        details["second_factor"] = method
    custody.append(
        db, type=EventType.STAFF_LOGIN, actor=user.actor, subject=user.id, details=details, at=now
    )
    return LoginResult(user, token, expires, None)


def _second_factor(
    db: Session,
    user: StaffUser,
    code: str,
    passkey: str,
    rp: passkeys.RelyingParty | None,
    has_totp: bool,
    now: datetime,
    *,
    sealer: mfa.Sealer,
) -> tuple[str | None, str]:
    """The method that passed (or None) and, if none did, why (for the log)."""
    if passkey and rp is not None:
        refused = passkeys.verify(db, user=user, rp=rp, response=passkey, now=now)
        return ("passkey", "") if refused is None else (None, refused)
    method = mfa.verify(db, user=user, code=code, sealer=sealer, now=now) if has_totp else None
    return method, passkeys.REFUSED


def authenticate(
    db: Session, *, name: str, password: str, policy: LoginPolicy, now: datetime
) -> LoginResult:
    """The password alone, for enrolling a second factor: no session is opened; failures
    are counted and logged as at login."""
    user, failure = _check_password(db, name=name, password=password, policy=policy, now=now)
    if user is None or failure is not None:
        return _failed(db, user, failure or "unknown_account", now)
    return LoginResult(user, None, None, None)


def enrol(
    db: Session, *, name: str, password: str, policy: LoginPolicy, now: datetime
) -> tuple[LoginResult, mfa.Enrolment | None]:
    """Start a second factor for the account whose password this is."""
    result = authenticate(db, name=name, password=password, policy=policy, now=now)
    if result.user is None or result.failure is not None:
        return result, None
    return result, mfa.start(db, user=result.user, sealer=policy.secret_sealer, now=now)


def confirm_enrolment(
    db: Session, *, name: str, password: str, code: str, policy: LoginPolicy, now: datetime
) -> tuple[LoginResult, list[str] | None]:
    """Put the started second factor in force with its first code; the recovery codes."""
    result = authenticate(db, name=name, password=password, policy=policy, now=now)
    if result.user is None or result.failure is not None:
        return result, None
    codes = mfa.confirm(
        db, user=result.user, code=code.strip(), sealer=policy.secret_sealer, now=now
    )
    if codes is None:
        return second_factor_failed(db, user=result.user, policy=policy, now=now), None
    return result, codes


def second_factor_failed(
    db: Session,
    *,
    user: StaffUser,
    policy: LoginPolicy,
    now: datetime,
    reason: str = "bad_second_factor",
) -> LoginResult:
    """A right password with a wrong, replayed or missing code or passkey: counted like a
    wrong one. `reason` is for the log only (a cloned passkey's counter is told apart)."""
    _count_failure(db, user, policy, now)
    return _failed(db, user, reason, now, EventType.STAFF_SECOND_FACTOR_FAILED)


def _check_password(
    db: Session, *, name: str, password: str, policy: LoginPolicy, now: datetime
) -> tuple[StaffUser | None, str | None]:
    user = db.scalar(select(StaffUser).where(StaffUser.name == name))
    if user is None:
        _verify(_DUMMY_HASH, password)
        return None, "unknown_account"
    if user.disabled or user.pending:
        _verify(_DUMMY_HASH, password)
        return user, "pending" if user.pending else "disabled"
    if throttle.waiting(user.locked_until, now):
        # Inside the wait: not counted (so a stranger cannot stretch it), password not tried.
        _verify(_DUMMY_HASH, password)
        return user, "throttled"
    if not _verify(user.password_hash, password):
        _count_failure(db, user, policy, now)
        return user, "bad_password"
    return user, None


def throttle_delay(failures: int, policy: LoginPolicy) -> timedelta:
    """The wait before the next try after `failures` in a row (portal.throttle)."""
    return throttle.delay(failures, policy)


def _count_failure(db: Session, user: StaffUser, policy: LoginPolicy, now: datetime) -> None:
    throttle.count_failure(
        db,
        user,
        counter=StaffUser.failed_logins,
        until=StaffUser.locked_until,
        limits=policy,
        now=now,
    )


def _verify(stored: str, password: str) -> bool:
    try:
        with _HASHING:
            return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _failed(
    db: Session,
    user: StaffUser | None,
    reason: str,
    now: datetime,
    event: EventType = EventType.STAFF_LOGIN_FAILED,
) -> LoginResult:
    metrics.LOGIN_FAILURES.labels(reason).inc()
    custody.append(
        db,
        type=event,
        # The typed name is not logged: people type passwords into the name field.
        actor=user.actor if user else "anonymous",
        subject=user.id if user else "unknown",
        details={"reason": reason},
        at=now,
    )
    return LoginResult(user, None, None, reason)


def refuse(result: LoginResult) -> None:
    """Turn a failed login into the error the caller shows (after its commit): one answer for
    every reason, which the custody event alone records."""
    if result.failure == NOT_ENROLLED:
        raise Forbidden(
            "this account must sign in with a second factor: enrol an authenticator app at "
            "/api/v1/auth/second-factor (or the staff sign-in page) first",
            code="second_factor_required",
        )
    if result.failure is not None:
        raise Unauthorized(
            "wrong name, password or second-factor code; after several failures each try "
            "must wait a little longer (at most PORTAL_LOGIN_LOCKOUT)",
            code="bad_credentials",
        )


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
