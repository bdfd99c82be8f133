"""Staff accounts and their sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from portal.custody.actors import Actor
from portal.db import Base, UtcDateTime

ROLES = ("investigator", "supervisor", "auditor", "admin")
# Roles whose grant needs a second admin: a supervisor approves destruction and confirms
# weakening rules; an admin confirms these very grants.
GUARDED_ROLES = ("supervisor", "admin")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # A supervisor or admin account waits, unable to sign in, until a second admin confirms
    # the grant (changes/): one admin alone must not be able to make two approvers.
    pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def actor(self) -> Actor:
        """How this account signs the custody log."""
        return Actor.staff(self.id, self.role)


class StaffSession(Base):
    """A bearer token (API) or cookie (web pages); stored only as a SHA-256."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StaffSecondFactor(Base):
    """A staff member's TOTP secret (RFC 6238), sealed with the contact key (`secret_sealed`):
    a copy of the database alone cannot mint codes. `secret` held it in the clear before
    that and is emptied on start (portal.auth.mfa.seal_plain_secrets). `confirmed_at` is
    empty while an enrolment waits for its first code; `last_step` is the last time step
    accepted, so a code is accepted once only (an UPDATE guarded by it, on any instance)."""

    __tablename__ = "staff_second_factors"

    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    secret: Mapped[str | None] = mapped_column(String(64))
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_step: Mapped[int] = mapped_column(Integer, default=0)


class StaffRecoveryCode(Base):
    """One single-use recovery code, stored only as a SHA-256 (it is random, 60 bits)."""

    __tablename__ = "staff_recovery_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StaffIdentity(Base):
    """A staff account's identity at an OpenID provider: the issuer and its `sub`, the only
    pair OpenID Connect promises never to reassign (a name or e-mail may change hands)."""

    __tablename__ = "staff_identities"

    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StaffPasskey(Base):
    """A WebAuthn credential (passkey) a staff member registered as a second factor. The
    public key and the last signature counter are all the portal keeps: a counter that does
    not grow marks a cloned authenticator."""

    __tablename__ = "staff_passkeys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # base64url of the authenticator's credential id (at most 1023 bytes).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StaffPasskeyChallenge(Base):
    """A WebAuthn challenge waiting for its answer, kept in the database so any instance can
    check it; deleted as it is used, so it is answered once. Stored as its SHA-256."""

    __tablename__ = "staff_passkey_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
