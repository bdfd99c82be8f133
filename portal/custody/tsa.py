"""RFC 3161 timestamps of signed checkpoints: asking a Time-Stamping Authority, and checking
its answer, by the portal and by the offline verifiers alike.

A token whose message imprint is the SHA-256 of a checkpoint note, signed by a TSA the
verifier trusts, proves that the checkpoint existed at the token's genTime: the portal cannot
later claim to have signed a different tree at that size before then. Parsing and
certificate-chain checks are rfc3161-client's; nothing here raises on a hostile answer but
`TimestampError` with a message a person can act on.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from rfc3161_client import (
    PKIStatus,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from .offline import Report

SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
_FIELDS = ("token", "checkpoint_signed_at")


class TimestampError(ValueError):
    """A TSA answer that is missing, malformed, for another message or not trusted."""


def load_roots(path: Path) -> list[x509.Certificate]:
    """The trusted TSA certificates of a PEM bundle; TimestampError if it holds none."""
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as e:
        raise TimestampError(f"cannot read TSA certificates from {path}: {e}") from None
    return certs


def parse(answer: bytes) -> TimeStampResponse:
    try:
        return decode_timestamp_response(answer)
    except ValueError as e:  # the library's ASN.1 errors
        raise TimestampError(f"not an RFC 3161 timestamp response: {e}") from None


def check(
    answer: bytes,
    message: bytes,
    *,
    roots: Sequence[x509.Certificate] | None,
    nonce: int | None = None,
) -> datetime:
    """The genTime of a token over `message`; TimestampError unless it is one. Without
    `roots` the TSA's signature is not checked (the caller must say so)."""
    response = parse(answer)
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        texts = "; ".join(response.status_string) or "no reason given"
        raise TimestampError(f"the TSA refused (status {response.status}: {texts})")
    try:
        info = response.tst_info
        imprint = info.message_imprint
        algorithm, digest = imprint.hash_algorithm, imprint.message
    except ValueError as e:
        raise TimestampError(f"the timestamp token is malformed: {e}") from None
    if algorithm != SHA256_OID:
        raise TimestampError(
            f"the token's message imprint uses {algorithm.dotted_string}, not SHA-256"
        )
    expected = hashlib.sha256(message).digest()
    if digest != expected:
        raise TimestampError(
            f"the token is for another message (imprint {digest.hex()}, "
            f"expected the checkpoint's {expected.hex()})"
        )
    if nonce is not None and info.nonce != nonce:
        raise TimestampError("the token's nonce is not the one asked for (a replayed answer)")
    if roots:
        try:
            VerifierBuilder(roots=list(roots)).build().verify(response, expected)
        except (VerificationError, ValueError) as e:
            raise TimestampError(f"the token's signature does not verify: {e}") from None
    return info.gen_time


def document(token: bytes, *, signed_at: str) -> dict[str, Any]:
    """What receipts and bundles carry beside the checkpoint."""
    return {"token": base64.b64encode(token).decode(), "checkpoint_signed_at": signed_at}


def _delay(signed_at: object, gen_time: datetime) -> str:
    if not isinstance(signed_at, str):
        return ""
    try:
        delay = gen_time - datetime.fromisoformat(signed_at)
    except (ValueError, TypeError):
        return ""
    return f"; the token's genTime is {int(delay.total_seconds())} s after that"


def report_timestamp(
    report: Report,
    raw: object,
    note_text: str | None,
    roots: Sequence[x509.Certificate] | None,
) -> None:
    """Check the `timestamp` a receipt or bundle carries for its checkpoint, and say what it
    proves: the checkpoint existed at genTime (only with a TSA certificate the verifier trusts)."""
    if raw is None:
        why = "no timestamp (yet): no outside clock vouches for when the checkpoint existed"
        if roots:  # the verifier asked for a trusted time: its absence is a finding
            report.not_verified("timestamp", why)
        else:
            report.warnings.append(why)
        return
    if not isinstance(raw, Mapping) or not isinstance(raw.get("token"), str):
        report.check(False, "timestamp: not an object with a base64 token")
        return
    for key in raw:
        if key not in _FIELDS:
            report.not_verified(f"timestamp.{key}", "not part of the format; nothing proves it")
    if note_text is None:
        report.check(False, "timestamp: there is no checkpoint to compare it with")
        return
    try:
        token = base64.b64decode(raw["token"], validate=True)
        gen_time = check(token, note_text.encode("utf-8"), roots=roots)
    except (TimestampError, ValueError) as e:
        report.check(False, f"timestamp INVALID: {e}")
        return
    signed_at = raw.get("checkpoint_signed_at")
    report.not_verified(
        "timestamp.checkpoint_signed_at",
        f"{signed_at!r}: the portal's own clock{_delay(signed_at, gen_time)}",
    )
    when = gen_time.isoformat()
    if roots:
        report.check(
            True,
            f"timestamp valid: the checkpoint existed at {when} (RFC 3161 token over its "
            "SHA-256, signed by a TSA certificate chaining to the one given)",
        )
    else:
        report.not_verified(
            "timestamp",
            f"genTime {when}: the token is over this checkpoint, but no trusted TSA "
            "certificate was given (--tsa-ca), so its signature is not checked",
        )
