"""Passkeys (WebAuthn, with Duo's py_webauthn) as a staff second factor, beside TOTP.

A signed-in staff member registers a passkey; at sign-in the right password plus an
assertion from one of the account's passkeys passes the second-factor step. Passkeys are
a second factor only, never a passwordless first one: the password check, its throttling
and its one refusal for every failure stay the single door in.

Each challenge lives in the database (any instance can check the answer), as a SHA-256,
for `CHALLENGE_TTL`, and is deleted in the transaction that checks its answer: an
assertion is accepted once. Sign-in uses discoverable credentials (no list of the account's
credential ids is handed to whoever types a name); the assertion's user handle and
credential must both belong to the account whose password came with it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import webauthn
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal.auth.models import StaffPasskey, StaffPasskeyChallenge, StaffUser
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import Conflict, Invalid, NotFound
from portal.ids import new_id

CHALLENGE_TTL = timedelta(minutes=5)
REGISTER, LOGIN = "register", "login"
# What a failed assertion is logged as: any refusal, or a counter that did not grow.
REFUSED, CLONED = "bad_second_factor", "passkey_sign_count"


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the RP id (a host name) and the origin pages run at."""

    id: str
    origin: str
    name: str = "Portal"

    @classmethod
    def from_url(cls, base_url: str, rp_id: str = "") -> RelyingParty:
        parts = urlsplit(base_url)
        return cls(id=rp_id or parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}")


def list_for(db: Session, *, user: StaffUser) -> list[StaffPasskey]:
    return list(
        db.scalars(
            select(StaffPasskey)
            .where(StaffPasskey.user_id == user.id)
            .order_by(StaffPasskey.created_at)
        )
    )


def count(db: Session, *, user: StaffUser) -> int:
    return (
        db.scalar(
            select(func.count()).select_from(StaffPasskey).where(StaffPasskey.user_id == user.id)
        )
        or 0
    )


def registration_options(db: Session, *, user: StaffUser, rp: RelyingParty, now: datetime) -> str:
    """The JSON for `navigator.credentials.create()` (a new challenge, kept waiting)."""
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user.id.encode(),
        user_name=user.name,
        challenge=_new_challenge(db, purpose=REGISTER, user_id=user.id, now=now),
        # Discoverable, so sign-in needs no list of the account's credential ids.
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(k.credential_id))
            for k in list_for(db, user=user)
        ],
    )
    return webauthn.options_to_json(options)


def add(
    db: Session, *, user: StaffUser, rp: RelyingParty, response: str, name: str, now: datetime
) -> StaffPasskey | Invalid:
    """Register the credential `response` (from `navigator.credentials.create()`). A refusal
    is returned, not raised, so that the caller commits the spent challenge first."""
    label = name.strip()[:64] or "passkey"
    try:
        credential = parse_registration_credential_json(response)
        challenge = _take_challenge(
            db, client_data=credential.response.client_data_json, purpose=REGISTER, now=now
        )
        if challenge is None or challenge[1] != user.id:
            return Invalid("the passkey answered no waiting request; try again", code="bad_passkey")
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge[0],
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (WebAuthnException, ValueError) as exc:
        return Invalid(f"the passkey was not accepted: {exc}", code="bad_passkey")
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.scalar(select(StaffPasskey).where(StaffPasskey.credential_id == credential_id)):
        raise Conflict("this passkey is registered already", code="passkey_exists")
    key = StaffPasskey(
        id=new_id(),
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=label,
        created_at=now,
    )
    db.add(key)
    custody.append(
        db,
        type=EventType.STAFF_SECOND_FACTOR_ENROLLED,
        actor=user.actor,
        subject=user.id,
        details={"method": "passkey", "passkey": key.id},
        at=now,
    )
    return key


def remove(db: Session, *, user: StaffUser, passkey_id: str, now: datetime) -> None:
    """The owner removes one of their passkeys."""
    key = db.get(StaffPasskey, passkey_id)
    if key is None or key.user_id != user.id:
        raise NotFound("no such passkey")
    db.delete(key)
    custody.append(
        db,
        type=EventType.STAFF_PASSKEY_REMOVED,
        actor=user.actor,
        subject=user.id,
        details={"passkey": passkey_id},
        at=now,
    )


def reset(db: Session, *, user: StaffUser, by: StaffUser, request_id: str, now: datetime) -> None:
    """Remove every passkey of `user` (after a second admin confirmed the reset)."""
    ids = [k.id for k in list_for(db, user=user)]
    if not ids:
        return
    db.execute(delete(StaffPasskey).where(StaffPasskey.user_id == user.id))
    custody.append(
        db,
        type=EventType.STAFF_PASSKEY_REMOVED,
        actor=by.actor,
        subject=user.id,
        details={"passkeys": ids, "change_request": request_id},
        at=now,
    )


def login_options(db: Session, *, rp: RelyingParty, now: datetime) -> str:
    """The JSON for `navigator.credentials.get()` at sign-in (for no account in particular)."""
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=_new_challenge(db, purpose=LOGIN, user_id=None, now=now),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return webauthn.options_to_json(options)


def verify(
    db: Session, *, user: StaffUser, rp: RelyingParty, response: str, now: datetime
) -> str | None:
    """None if `response` is a fresh assertion by one of `user`'s passkeys, else why not
    (`REFUSED`, or `CLONED` when its signature counter did not grow)."""
    try:
        credential = parse_authentication_credential_json(response)
        challenge = _take_challenge(
            db, client_data=credential.response.client_data_json, purpose=LOGIN, now=now
        )
        key = db.scalar(
            select(StaffPasskey).where(
                StaffPasskey.credential_id == credential.id, StaffPasskey.user_id == user.id
            )
        )
        if challenge is None or key is None or credential.response.user_handle != user.id.encode():
            return REFUSED
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge[0],
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=key.public_key,
            # Checked below, so that a clone is told apart from other refusals.
            credential_current_sign_count=0,
        )
    except (WebAuthnException, ValueError):
        return REFUSED
    return None if _advance(db, key, verified.new_sign_count, now) else CLONED


def _advance(db: Session, key: StaffPasskey, new_count: int, now: datetime) -> bool:
    """Record the assertion's counter; False if it did not grow (WebAuthn L3 6.1.1: a
    counter at or below the last one seen means two authenticators hold the key). One
    guarded UPDATE, so two instances cannot both accept the same count."""
    grows = StaffPasskey.sign_count < new_count
    # Authenticators without a counter (passkeys synced between devices) always send 0.
    guard = grows if new_count else StaffPasskey.sign_count == 0
    done = db.execute(
        update(StaffPasskey)
        .where(StaffPasskey.id == key.id, guard)
        .values(sign_count=new_count, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.expire(key, ["sign_count", "last_used_at"])
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def _new_challenge(db: Session, *, purpose: str, user_id: str | None, now: datetime) -> bytes:
    db.execute(delete(StaffPasskeyChallenge).where(StaffPasskeyChallenge.expires_at <= now))
    challenge = secrets.token_bytes(32)
    db.add(
        StaffPasskeyChallenge(
            id=_digest(challenge), purpose=purpose, user_id=user_id, expires_at=now + CHALLENGE_TTL
        )
    )
    return challenge


def _take_challenge(
    db: Session, *, client_data: bytes, purpose: str, now: datetime
) -> tuple[bytes, str | None] | None:
    """The challenge the client signed and whom it was for, if it was ours, waiting and
    fresh; it is deleted either way, so it cannot be answered twice."""
    challenge = parse_client_data_json(client_data).challenge
    row = db.execute(
        delete(StaffPasskeyChallenge)
        .where(
            StaffPasskeyChallenge.id == _digest(challenge),
            StaffPasskeyChallenge.purpose == purpose,
        )
        .returning(StaffPasskeyChallenge.user_id, StaffPasskeyChallenge.expires_at)
    ).first()
    if row is None or as_utc(row.expires_at) <= now:
        return None
    return challenge, row.user_id


def _digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()
