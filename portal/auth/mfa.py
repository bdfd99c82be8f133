"""Second factors for staff: TOTP (RFC 6238, pyotp) and single-use recovery codes.

Enrolment is two steps: `start` makes a secret and its provisioning QR code; `confirm`
accepts the first code from the authenticator, and only then is the factor in force and
the recovery codes (shown once, stored as SHA-256) issued. A code is accepted once: the
time step it matched is recorded with an UPDATE that only succeeds while it is newer, and a
recovery code is spent with an UPDATE that only succeeds while it is unused, so two
instances racing with the same code cannot both pass.

The secret is sealed with the contact key (a `Sealer`, portal.keys.ContactCipher): whoever
holds a copy of the database alone cannot mint codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pyotp
import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from portal.auth.models import StaffRecoveryCode, StaffSecondFactor, StaffUser
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import Conflict

ISSUER = "Portal"
RECOVERY_CODES = 10
# Codes from one step either side of now are accepted: phone clocks drift.
VALID_WINDOW = 1
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0/o, 1/l/i)


class Sealer(Protocol):
    """What seals secrets at rest: portal.keys.ContactCipher, the contact details' key."""

    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, token: bytes) -> bytes: ...


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    """The otpauth:// provisioning URI an authenticator app reads."""
    qr_svg: str


def factor(db: Session, *, user: StaffUser) -> StaffSecondFactor | None:
    """The account's second factor in force (confirmed), if any."""
    row = db.get(StaffSecondFactor, user.id)
    return row if row is not None and row.confirmed_at is not None else None


def state(db: Session, *, user: StaffUser) -> dict[str, object]:
    """What a reset request saw (flows/changes.py applies it only if still so)."""
    row = factor(db, user=user)
    enrolled = custody.rfc3339(row.confirmed_at) if row and row.confirmed_at else None
    return {"second_factor": enrolled}


def start(db: Session, *, user: StaffUser, sealer: Sealer, now: datetime) -> Enrolment:
    """A new secret for `user`, waiting for its first code (replaces an unconfirmed one)."""
    if factor(db, user=user) is not None:
        raise Conflict(
            "this account already has a second factor; an admin reset (confirmed by a second "
            "admin) removes it",
            code="second_factor_enrolled",
        )
    secret = pyotp.random_base32()
    sealed = sealer.encrypt(secret.encode())
    row = db.get(StaffSecondFactor, user.id)
    if row is None:
        row = StaffSecondFactor(user_id=user.id, created_at=now, last_step=0)
        db.add(row)
    row.secret, row.secret_sealed, row.created_at, row.last_step = None, sealed, now, 0
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.name, issuer_name=ISSUER)
    qr = segno.make(uri, error="m")
    return Enrolment(secret, uri, qr.svg_inline(scale=4, title=ISSUER))


def confirm(
    db: Session, *, user: StaffUser, code: str, sealer: Sealer, now: datetime
) -> list[str] | None:
    """Put the waiting secret in force if `code` matches it; returns the recovery codes (to
    show once), or None for a wrong code (the caller counts and logs the failure)."""
    row = db.get(StaffSecondFactor, user.id)
    if row is None or row.confirmed_at is not None:
        raise Conflict("start an enrolment first", code="no_enrolment")
    if not _accept_totp(db, row, _totp(row, sealer), code, now):
        return None
    row.confirmed_at = now
    codes = _new_recovery_codes(db, user=user)
    custody.append(
        db,
        type=EventType.STAFF_SECOND_FACTOR_ENROLLED,
        actor=user.actor,
        subject=user.id,
        details={"method": "totp", "recovery_codes": len(codes)},
        at=now,
    )
    return codes


def verify(db: Session, *, user: StaffUser, code: str, sealer: Sealer, now: datetime) -> str | None:
    """Which method `code` passed ("totp" or "recovery"), or None. Each is accepted once."""
    row = factor(db, user=user)
    if row is None:
        return None
    cleaned = code.strip().lower().replace(" ", "")
    totp = _totp(row, sealer)
    if len(cleaned) == totp.digits and cleaned.isascii() and cleaned.isdigit():
        return "totp" if _accept_totp(db, row, totp, cleaned, now) else None
    spent = db.execute(
        update(StaffRecoveryCode)
        .where(
            StaffRecoveryCode.code_hash == _hash(cleaned.replace("-", "")),
            StaffRecoveryCode.user_id == user.id,
            StaffRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return "recovery" if spent.rowcount == 1 else None  # type: ignore[attr-defined]


def recovery_left(db: Session, *, user: StaffUser) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(StaffRecoveryCode)
            .where(StaffRecoveryCode.user_id == user.id, StaffRecoveryCode.used_at.is_(None))
        )
        or 0
    )


def reset(db: Session, *, user: StaffUser, by: StaffUser, request_id: str, now: datetime) -> None:
    """Remove `user`'s second factor and recovery codes (after a second admin confirmed)."""
    db.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user.id))
    db.execute(delete(StaffSecondFactor).where(StaffSecondFactor.user_id == user.id))
    custody.append(
        db,
        type=EventType.STAFF_SECOND_FACTOR_RESET,
        actor=by.actor,
        subject=user.id,
        details={"name": user.name, "change_request": request_id},
        at=now,
    )


def seal_plain_secrets(db: Session, *, sealer: Sealer) -> int:
    """Seal the secrets stored in the clear before they were sealed, emptying that column;
    run on start, and idempotent: a sealed row is not touched again. How many it sealed."""
    rows = db.scalars(
        select(StaffSecondFactor).where(StaffSecondFactor.secret.is_not(None)).with_for_update()
    ).all()
    for row in rows:
        assert row.secret is not None
        row.secret_sealed, row.secret = sealer.encrypt(row.secret.encode()), None
    return len(rows)


def _totp(row: StaffSecondFactor, sealer: Sealer) -> pyotp.TOTP:
    if row.secret_sealed is None:  # not yet sealed: the start-up pass seals it
        assert row.secret is not None
        return pyotp.TOTP(row.secret)
    return pyotp.TOTP(sealer.decrypt(row.secret_sealed).decode("ascii"))


def _accept_totp(
    db: Session, row: StaffSecondFactor, totp: pyotp.TOTP, code: str, now: datetime
) -> bool:
    step = totp.timecode(now)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        candidate = step + offset
        expected = totp.generate_otp(candidate)
        if hmac.compare_digest(expected.encode(), code.encode()) and _claim_step(
            db, row, candidate
        ):
            return True
    return False


def _claim_step(db: Session, row: StaffSecondFactor, step: int) -> bool:
    # Replay: a step at or before the last accepted one is refused, on every instance.
    claimed = db.execute(
        update(StaffSecondFactor)
        .where(StaffSecondFactor.user_id == row.user_id, StaffSecondFactor.last_step < step)
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.expire(row, ["last_step"])
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _new_recovery_codes(db: Session, *, user: StaffUser) -> list[str]:
    db.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))  # ~59 bits
        db.add(StaffRecoveryCode(code_hash=_hash(raw), user_id=user.id))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
