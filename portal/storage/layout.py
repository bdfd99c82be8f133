"""Where things live in storage: originals by content, derivatives beside their source.

Originals are write-once and content-addressed (`sha256/<hex>`), so a key names the bytes it
holds and two receipts of the same file share one object.
"""

from __future__ import annotations

import re

ORIGINALS = "sha256/"
DERIVED = "derived/"
LOG = "log/"  # the custody log's tiles and checkpoints (portal.custody.mirror)
_ORIGINAL = re.compile(r"sha256/([0-9a-f]{64})")


def original_key(sha256: str) -> str:
    """The key of the original whose SHA-256 is `sha256` (lowercase hex)."""
    return f"{ORIGINALS}{sha256}"


def original_sha256(key: str) -> str | None:
    """The SHA-256 an original's key names; None for any other key."""
    match = _ORIGINAL.fullmatch(key)
    return match.group(1) if match else None


def derived_key(source_sha256: str, name: str) -> str:
    """A derivative's key (poster, review copy, redaction), under its source's hash."""
    return f"{DERIVED}{source_sha256}/{name}"


def key_parts(key: str) -> list[str]:
    """A caller's key split into path segments, refused when it could escape its place:
    empty, `.` or `..` segments, NUL, or the backends' own `partial/` and `locks/` areas."""
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\0" in key or parts[0] in ("partial", "locks"):
        raise ValueError(f"bad storage key {key!r}")
    return parts
