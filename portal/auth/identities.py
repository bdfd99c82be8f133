"""Staff identities at an OpenID provider: the account an (issuer, subject) pair signs in as,
and the custody events of single sign-on (a link, a refusal). The flow that decides a
sign-in is flows/oidc_signin.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal import metrics
from portal.auth.models import StaffIdentity, StaffUser
from portal.custody import service as custody
from portal.custody.events import EventType


def find(db: Session, *, issuer: str, subject: str) -> StaffUser | None:
    row = db.get(StaffIdentity, (issuer, subject))
    return None if row is None else db.get(StaffUser, row.user_id)


def link(db: Session, *, user: StaffUser, issuer: str, subject: str, now: datetime) -> None:
    db.add(StaffIdentity(issuer=issuer, subject=subject, user_id=user.id, created_at=now))
    custody.append(
        db,
        type=EventType.STAFF_IDENTITY_LINKED,
        actor=custody.SYSTEM,
        subject=user.id,
        details={"issuer": issuer, "subject": subject},
        at=now,
    )


def refused(
    db: Session,
    *,
    reason: str,
    now: datetime,
    user: StaffUser | None = None,
    issuer: str = "",
    claim: list[str] | None = None,
) -> None:
    """Log a single sign-on that was refused; `claim` is the role claim's values, so an
    auditor sees what the provider asserted."""
    metrics.LOGIN_FAILURES.labels(reason).inc()
    details: dict[str, object] = {"reason": reason, "method": "oidc", "issuer": issuer}
    if claim is not None:
        details["role_claim"] = claim
    custody.append(
        db,
        type=EventType.STAFF_LOGIN_FAILED,
        actor=user.actor if user else "anonymous",
        subject=user.id if user else "unknown",
        details=details,
        at=now,
    )
