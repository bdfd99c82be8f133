"""A staff member signs in through the OpenID provider (its ID token already checked by
auth/oidc.py): the account found by (issuer, subject) or made at the first sign-in, its role
taken from the configured claim, a session opened; every refusal logged.

The two-admin rule holds for the provider too. An account whose first claim maps to
supervisor or admin is created pending, with a role request that a portal admin must
confirm (the provider's assertion counts as the one asking, never as the one confirming,
and there is no first-admin exception); a later claim raising an account to one of those
roles files the same request and signs in with the role held until it is confirmed. A claim
lowering the role, or moving it between the other roles, applies at once, logged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.auth import identities
from portal.auth import service as auth
from portal.auth.models import GUARDED_ROLES, StaffUser
from portal.changes import service as changes
from portal.changes.models import ChangeKind, ChangeState
from portal.config import Settings
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import Conflict, Invalid


@dataclass(frozen=True)
class RoleMapping:
    issuer: str
    claim: str
    roles: dict[str, str]
    """Claim value -> portal role."""
    mfa_amr: frozenset[str]
    """`amr` values that show the provider asked for a second factor."""

    @classmethod
    def of(cls, settings: Settings) -> RoleMapping:
        pairs = [p.rpartition("=") for p in settings.oidc_roles.split(",") if p]
        return cls(
            issuer=settings.oidc_issuer,
            claim=settings.oidc_role_claim,
            roles={value: role for value, _, role in pairs},
            mfa_amr=frozenset(a.strip() for a in settings.oidc_mfa_amr.split(",") if a.strip()),
        )


@dataclass(frozen=True)
class SignIn:
    user: StaffUser | None
    token: str | None
    refusal: str | None


def _values(claim: Any) -> list[str]:
    values = [claim] if isinstance(claim, str) else claim if isinstance(claim, list) else []
    return [str(v)[:100] for v in values][:20]


def _refuse(db: Session, m: RoleMapping, reason: str, now: datetime, **kw: Any) -> SignIn:
    identities.refused(db, reason=reason, now=now, issuer=m.issuer, **kw)
    return SignIn(kw.get("user"), None, reason)


def sign_in(
    db: Session,
    *,
    claims: dict[str, Any],
    mapping: RoleMapping,
    policy: auth.LoginPolicy,
    now: datetime,
) -> SignIn:
    """Sign in (or refuse, logged) the holder of an already checked ID token."""
    asserted = _values(claims.get(mapping.claim))
    roles = {mapping.roles[v] for v in asserted if v in mapping.roles}
    if len(roles) != 1:
        reason = "unmapped_role" if not roles else "several_roles"
        return _refuse(db, mapping, reason, now, claim=asserted)
    role = roles.pop()
    user = identities.find(db, issuer=mapping.issuer, subject=str(claims["sub"]))
    if user is None:
        made = _first_sign_in(db, claims=claims, mapping=mapping, role=role, now=now)
        if isinstance(made, SignIn):
            return made
        user = made
    if user.disabled or user.pending:
        reason = "pending" if user.pending else "disabled"
        return _refuse(db, mapping, reason, now, user=user)
    if user.role != role:
        _follow_claim(db, user=user, role=role, now=now)
    amr = set(_values(claims.get("amr")))
    if user.role in policy.second_factor_roles and not (amr & mapping.mfa_amr):
        # The portal's own TOTP cannot follow a provider sign-in (such accounts have no
        # password to enrol one with): the provider must vouch for its second factor.
        return _refuse(db, mapping, "second_factor_not_asserted", now, user=user)
    token, expires = auth.open_session(db, user=user, now=now, ttl=policy.session_ttl)
    details: dict[str, object] = {
        "expires_at": custody.rfc3339(expires),
        "method": "oidc",
        "issuer": mapping.issuer,
    }
    if amr & mapping.mfa_amr:
        details["second_factor"] = "provider:" + ",".join(sorted(amr & mapping.mfa_amr))
    custody.append(
        db, type=EventType.STAFF_LOGIN, actor=user.actor, subject=user.id, details=details, at=now
    )
    return SignIn(user, token, None)


def _first_sign_in(
    db: Session, *, claims: dict[str, Any], mapping: RoleMapping, role: str, now: datetime
) -> StaffUser | SignIn:
    name = str(claims.get("preferred_username") or claims["sub"])[:64]
    guarded = role in GUARDED_ROLES
    try:
        # A random password nobody is told: the account signs in through the provider only.
        user = auth.add_user(
            db, name=name, role=role, password=secrets.token_urlsafe(32), now=now, pending=guarded
        )
    except (Conflict, Invalid):
        # Never bound to an existing account by name: whoever controls a name at the
        # provider would take over the portal account of that name.
        return _refuse(db, mapping, "name_taken", now)
    identities.link(db, user=user, issuer=mapping.issuer, subject=str(claims["sub"]), now=now)
    if guarded:
        _ask_grant(db, user=user, role=role, now=now)
        return _refuse(db, mapping, "pending", now, user=user)
    return user


def _follow_claim(db: Session, *, user: StaffUser, role: str, now: datetime) -> None:
    if role not in GUARDED_ROLES:
        auth.grant_role(db, user=user, role=role, now=now)
        return
    asked = [r for r in changes.pending(db, target=user.id) if r.kind == ChangeKind.ROLE]
    if not any(r.new == {"role": role} and r.state == ChangeState.PENDING for r in asked):
        _ask_grant(db, user=user, role=role, now=now)


def _ask_grant(db: Session, *, user: StaffUser, role: str, now: datetime) -> None:
    # Asked by the operator's side (the provider); any active admin may confirm it.
    changes.request(
        db,
        user=None,
        kind=ChangeKind.ROLE,
        target=user.id,
        old=auth.role_state(user),
        new={"role": role},
        now=now,
    )
