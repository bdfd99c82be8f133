"""Random identifiers: unguessable, URL-safe, and carrying no time or order."""

from __future__ import annotations

import secrets


def new_id() -> str:
    return secrets.token_hex(16)
