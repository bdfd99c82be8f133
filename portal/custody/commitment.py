"""Salted commitments to witness-identifying text (file names) that custody events carry.

The log is permanent; a witness's right to withdraw is not. An event therefore holds
HMAC-SHA256(salt, text) and never the text. The salt is random per file (32 bytes, kept in the
file's database row, never in the log): a receipt or bundle that discloses one name and its salt
lets nobody test guesses against the other files' commitments, and erasing the row's name and
salt leaves a commitment that nobody can open, while every proof over the event still holds.
Standard library only: the offline verifiers use it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SALT_BYTES = 32


def new_salt() -> str:
    """A fresh random salt, hex (as rows, receipts and bundles carry it)."""
    return secrets.token_hex(SALT_BYTES)


def commit(text: str, salt: str) -> str:
    """HMAC-SHA256 keyed by the salt over the UTF-8 text, hex."""
    return hmac.new(bytes.fromhex(salt), text.encode("utf-8"), hashlib.sha256).hexdigest()


def opens(commitment: object, text: object, salt: object) -> bool:
    """Whether `text` with `salt` opens `commitment` (False for anything malformed)."""
    if not (isinstance(commitment, str) and isinstance(text, str) and isinstance(salt, str)):
        return False
    # Only the canonical form (lower-case hex, as new_salt writes it) opens: hex is read
    # case-blind, so "…A" would open what "…a" does and an edited salt would pass unseen.
    if len(salt) != 2 * SALT_BYTES or salt != salt.lower():
        return False
    try:
        expected = commit(text, salt)
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(expected, commitment)
