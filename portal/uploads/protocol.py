"""tus 1.0 request headers: the values a client sends, parsed and bounded before use."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from portal.errors import BadRequest

CHECKSUM_ALGORITHMS: dict[str, Callable[[], Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}


def parse_metadata(header: str | None, *, max_bytes: int) -> dict[str, str | None]:
    """tus Upload-Metadata: `key base64value` pairs separated by commas."""
    if not header:
        return {}
    if len(header.encode()) > max_bytes:
        raise BadRequest(f"Upload-Metadata is longer than {max_bytes} bytes", code="bad_metadata")
    out: dict[str, str | None] = {}
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not key or len(parts) > 2 or not key.isascii() or key in out:
            raise BadRequest(f"malformed Upload-Metadata pair {pair!r}", code="bad_metadata")
        if len(parts) == 1:
            out[key] = None
            continue
        try:
            out[key] = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest(
                f"Upload-Metadata value for {key!r} is not base64 UTF-8", code="bad_metadata"
            ) from None
    return out


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    if header is None:
        return None
    algo, _, value = header.strip().partition(" ")
    if algo not in CHECKSUM_ALGORITHMS:
        raise BadRequest(
            f"checksum algorithm {algo!r} is not supported (use sha1 or sha256)",
            code="checksum_algorithm",
        )
    try:
        digest = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise BadRequest("Upload-Checksum value is not base64", code="bad_checksum") from None
    return algo, digest


def parse_length(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    # ASCII digits only (str.isdigit also takes "²"), and no more than fit in 63 bits.
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise BadRequest(f"{name} must be a non-negative integer", code="bad_header")
    return int(value)
