"""Staff accounts: plain functions over a session."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import ROLES, StaffUser
from portal.errors import Conflict, Invalid, NotFound
from portal.ids import new_id

MIN_PASSWORD = 12
hasher = PasswordHasher()


def add_user(db: Session, *, name: str, role: str, password: str, now: datetime) -> StaffUser:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", code="bad_role")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"passwords need at least {MIN_PASSWORD} characters", code="weak_password")
    if db.scalar(select(StaffUser).where(StaffUser.name == name)) is not None:
        raise Conflict(f"a staff account named {name!r} exists", code="user_exists")
    user = StaffUser(
        id=new_id(), name=name, role=role, password_hash=hasher.hash(password), created_at=now
    )
    db.add(user)
    return user


def list_users(db: Session) -> list[StaffUser]:
    return list(db.scalars(select(StaffUser).order_by(StaffUser.name)))


def disable_user(db: Session, *, name: str) -> StaffUser:
    user = db.scalar(select(StaffUser).where(StaffUser.name == name))
    if user is None:
        raise NotFound(f"no staff account named {name!r}")
    user.disabled = True
    return user
