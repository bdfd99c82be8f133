"""Witness tokens: high-entropy bearer secrets, stored only as a SHA-256.

A token is also the receipt code a witness keeps, so it is made to be written down: 256
random bits in Crockford base32 (no I, L, O or U to confuse), in groups of four. Typed back,
case, spaces, dashes and look-alikes (O for 0, I or L for 1) do not matter. Tokens made
before (`wt_` and URL-safe base64) keep working unchanged.

A fast hash is right here (unlike passwords): 256 random bits cannot be guessed, and a
lookup by hash keeps verification constant-time with respect to the secret.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from portal.errors import Unauthorized

PREFIX = "wt_"
TOKEN_BYTES = 32
GROUP = 4
_RFC4648 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CROCKFORD = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD = bytes.maketrans(_RFC4648, _CROCKFORD)
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
CANONICAL_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]{52}")


def new_token() -> str:
    """256 random bits as 52 Crockford base32 characters, grouped `XXXX-XXXX-...`."""
    raw = base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=")
    text = raw.translate(_TO_CROCKFORD).decode()
    return "-".join(text[i : i + GROUP] for i in range(0, len(text), GROUP))


def canonical(token: str) -> str:
    """The form that is hashed: old `wt_` tokens as they are, new ones without grouping or
    look-alikes. Anything else is returned unchanged (and matches no submission)."""
    text = token.strip()
    if text.startswith(PREFIX):
        return text
    plain = re.sub(r"\s", "", text).upper().translate(_LOOK_ALIKES)
    return plain if CANONICAL_RE.fullmatch(plain) else text


def grouped(token: str) -> str:
    """A token as it is shown: new ones in groups of four, old ones unchanged."""
    plain = canonical(token)
    if not CANONICAL_RE.fullmatch(plain):
        return token
    return "-".join(plain[i : i + GROUP] for i in range(0, len(plain), GROUP))


def token_hash(token: str) -> str:
    return hashlib.sha256(canonical(token).encode()).hexdigest()


def bearer(authorization: str | None) -> str:
    """The token from an `Authorization: Bearer` header, or Unauthorized."""
    if not authorization:
        raise Unauthorized("a witness token is required (Authorization: Bearer ...)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use Authorization: Bearer <witness token>")
    return token.strip()
