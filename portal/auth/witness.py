"""Witness tokens: high-entropy bearer secrets, stored only as a SHA-256.

A fast hash is right here (unlike passwords): 256 random bits cannot be guessed, and a
lookup by hash keeps verification constant-time with respect to the secret.
"""

from __future__ import annotations

import hashlib
import secrets

from portal.errors import Unauthorized

PREFIX = "wt_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(authorization: str | None) -> str:
    """The token from an `Authorization: Bearer` header, or Unauthorized."""
    if not authorization:
        raise Unauthorized("a witness token is required (Authorization: Bearer ...)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use Authorization: Bearer <witness token>")
    return token.strip()
