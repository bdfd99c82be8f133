"""Offline verification of a witness receipt, for a court expert without server or database.

A receipt shows fields; each is OK only when it equals the same field of a custody event whose
inclusion under the signed checkpoint is proven: the consent from `consent.given`, each file
from its `upload.completed`. A file's name is proven by opening the event's salted commitment
with the name and salt the receipt carries (portal.custody.commitment); a name erased at
withdrawal is reported as not verified. Fields that nothing binds (`issued_at`, what a download
shows for the witness (`code`, `status_url`, `unfinished`), anything
unknown, whether the file list is complete) are reported as not verified. Standard library,
`cryptography`, rfc3161-client (timestamps) and the log's own modules only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from .note import Checkpoint
from .offline import Report, canonical_json, check_checkpoint, check_inclusion, check_name
from .tsa import report_timestamp

RECEIPT_FORMAT = "portal-receipt/3"

_PROOF = ("event", "leaf_index", "inclusion_proof")
# Each shown field, and where the proven event holds it.
_CONSENT = {
    "version": ("details", "version"),
    "sha256": ("details", "sha256"),
    "scopes": ("details", "scopes"),
    "language": ("details", "language"),
    "given_at": ("at",),
}
_FILE = {
    "size": ("details", "size"),
    "sha256": ("details", "sha256"),
    "media_type": ("details", "media_type"),
    "received_at": ("at",),
}
_TOP = (
    "format",
    "submission",
    "issued_at",
    "consent",
    "log",
    "checkpoint",
    "timestamp",
    "files",
    *("code", "status_url", "unfinished"),
)
# What a downloaded receipt shows for the witness beside the proofs (the printed receipt shows
# the same); the code's value is never repeated in a report, which may be shared.
_FOR_THE_WITNESS = {
    "code": "the witness's receipt code (secret: keep it); nothing signs it",
    "status_url": "where the witness checks the submission; nothing signs it",
    "unfinished": "uploads not finished when the receipt was made; nothing proves them",
}
_LOG = ("origin", "public_key")
_MISSING = object()


def load_receipt(path: Path) -> Mapping[str, Any]:
    """Read a receipt file; ValueError if it is not a JSON object."""
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not readable JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def _unknown_fields(
    report: Report, path: str, obj: Mapping[str, Any], known: Sequence[str]
) -> None:
    for key in obj:
        if key not in known:
            where = f"{path}.{key}" if path else str(key)
            report.not_verified(where, "not part of the receipt format; nothing proves it")


def _same(a: object, b: object) -> bool:
    """Equal as JSON, types included (1, 1.0 and true differ)."""
    if a is _MISSING or b is _MISSING:
        return False
    try:
        return canonical_json(a) == canonical_json(b)
    except ValueError:  # NaN and the like: never what the portal wrote
        return False


def _proven_event(
    report: Report, label: str, entry: Mapping[str, Any], cp: Checkpoint | None
) -> dict[str, Any] | None:
    """The custody event `entry` carries, once its bytes are canonical and proven in the log."""
    text = entry.get("event")
    if not isinstance(text, str):
        report.check(False, f"{label}: custody event missing or not a string")
        return None
    try:
        data = text.encode("utf-8")
        event = json.loads(text)
        canonical = canonical_json(event) == data
        report.check(
            canonical,
            f"{label}: custody event is canonical JSON"
            if canonical
            else f"{label}: custody event is NOT canonical JSON (not the bytes the log hashes)",
        )
    except (UnicodeEncodeError, ValueError) as e:
        report.check(False, f"{label}: custody event is not valid canonical JSON: {e}")
        return None
    included = check_inclusion(report, label, entry, data, cp)
    if not isinstance(event, dict):
        report.check(False, f"{label}: custody event is not a JSON object")
        return None
    return event if canonical and included else None


def _dig(event: Mapping[str, Any], where: Sequence[str]) -> object:
    node: object = event
    for key in where:
        node = node.get(key, _MISSING) if isinstance(node, Mapping) else _MISSING
    return node


def _compare(
    report: Report,
    path: str,
    entry: Mapping[str, Any],
    event: Mapping[str, Any] | None,
    fields: Mapping[str, Sequence[str]],
) -> None:
    """Each shown field against the proven event; nothing is OK without the event's proof."""
    for key, where in fields.items():
        shown = entry.get(key, _MISSING)
        field = f"{path}.{key}"
        if shown is _MISSING:
            report.check(False, f"{field}: missing")
        elif event is None:
            report.not_verified(field, f"{shown!r}: its custody event is not proven")
        else:
            proven = _dig(event, where)
            same = _same(shown, proven)
            report.check(
                same,
                f"{field} {shown!r} "
                + ("matches the proven event" if same else f"differs from the proven {proven!r}"),
            )


def _check_event_kind(
    report: Report, label: str, event: Mapping[str, Any] | None, kind: str, submission: object
) -> None:
    if event is None:
        return
    same_kind = event.get("type") == kind
    report.check(
        same_kind,
        f"{label}: proven event is {event.get('type')!r}"
        + ("" if same_kind else f", not {kind!r}"),
    )
    same = isinstance(submission, str) and event.get("subject") == submission
    report.check(
        same,
        f"{label}: proven event is about submission {event.get('subject')!r}"
        + ("" if same else f", not the receipt's {submission!r}"),
    )


def _check_entry(
    report: Report,
    path: str,
    raw: object,
    cp: Checkpoint | None,
    *,
    kind: str,
    fields: Mapping[str, Sequence[str]],
    submission: object,
    extra: Sequence[str] = (),
) -> Mapping[str, Any] | None:
    """One proven part of the receipt (the consent, or a file); its proven event."""
    if not isinstance(raw, Mapping):
        report.check(False, f"{path}: missing or not an object")
        return None
    _unknown_fields(report, path, raw, (*fields, *extra, *_PROOF))
    event = _proven_event(report, path, raw, cp)
    _check_event_kind(report, path, event, kind, submission)
    _compare(report, path, raw, event, fields)
    return event


def _check_local(
    report: Report, path: Path, proven: Sequence[tuple[str, Mapping[str, Any]]]
) -> None:
    """A local copy is matched by its SHA-256 against the proven events, never by its name."""
    try:
        with path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
            length = f.tell()
    except OSError as e:
        report.check(False, f"local file {path} unreadable: {e}")
        return
    matches = [label for label, details in proven if details.get("sha256") == digest]
    if not matches:
        report.check(False, f"local file {path} (sha256 {digest}) is no proven file of the receipt")
        return
    sizes = {details.get("size") for _, details in proven if details.get("sha256") == digest}
    report.check(
        sizes == {length},
        f"local file {path}: sha256 {digest}, size {length}, is {matches[0]}"
        + ("" if sizes == {length} else f" but the proven size is {sizes}"),
    )


def _check_log(report: Report, receipt: Mapping[str, Any], verifier_key: str | None) -> None:
    log = receipt.get("log")
    if not isinstance(log, Mapping):
        return  # check_checkpoint already failed the origin
    _unknown_fields(report, "log", log, _LOG)
    named = log.get("public_key", _MISSING)
    if verifier_key is None:
        if not isinstance(named, str):
            report.check(False, "log.public_key: missing or not a string")
    elif named == verifier_key:
        report.check(True, "log.public_key is the key given for this verification")
    else:
        report.not_verified("log.public_key", f"{named!r} was not used: the given key was")


def _check_top(report: Report, receipt: Mapping[str, Any]) -> None:
    fmt = receipt.get("format")
    report.check(
        fmt == RECEIPT_FORMAT,
        f"receipt format {fmt!r}"
        + ("" if fmt == RECEIPT_FORMAT else f", expected {RECEIPT_FORMAT!r}"),
    )
    _unknown_fields(report, "", receipt, _TOP)
    issued = receipt.get("issued_at")
    if isinstance(issued, str):
        report.not_verified("issued_at", f"{issued!r}: when the receipt was made; nothing signs it")
    else:
        report.check(False, f"issued_at {issued!r}: missing or not a string")
    for name, why in _FOR_THE_WITNESS.items():
        if name in receipt:
            report.not_verified(name, why)
    if not isinstance(receipt.get("submission"), str):
        report.check(False, f"submission {receipt.get('submission')!r}: missing or not a string")


def verify_receipt(
    receipt: Mapping[str, Any],
    verifier_key: str | None = None,
    local_files: Sequence[Path] = (),
    tsa_roots: Sequence[x509.Certificate] | None = None,
) -> Report:
    """Check a receipt, and local copies of its files (matched by SHA-256), against the log;
    its checkpoint's timestamp against the TSA certificates `tsa_roots` the verifier trusts."""
    if not isinstance(receipt, Mapping):
        raise ValueError("a receipt must be a JSON object")
    report = Report()
    _check_top(report, receipt)
    cp = check_checkpoint(report, receipt, verifier_key, kind="receipt")
    _check_log(report, receipt, verifier_key)
    note_text = receipt.get("checkpoint")
    report_timestamp(
        report,
        receipt.get("timestamp"),
        note_text if isinstance(note_text, str) and cp is not None else None,
        tsa_roots,
    )
    submission = receipt.get("submission")
    _check_entry(
        report,
        "consent",
        receipt.get("consent"),
        cp,
        kind="consent.given",
        fields=_CONSENT,
        submission=submission,
    )
    files = receipt.get("files")
    if not isinstance(files, list) or not files:
        report.check(False, "receipt lists no files")
        files = []
    proven: list[tuple[str, Mapping[str, Any]]] = []
    for i, raw in enumerate(files):
        path = f"files[{i}]"
        event = _check_entry(
            report,
            path,
            raw,
            cp,
            kind="upload.completed",
            fields=_FILE,
            submission=submission,
            extra=("name", "name_salt"),
        )
        if isinstance(raw, Mapping):
            check_name(report, path, raw, event)
        details = event.get("details") if event is not None else None
        if isinstance(details, Mapping) and isinstance(raw, Mapping):
            proven.append((f"{path} {raw.get('name')!r}", details))
    if files:
        report.not_verified(
            "files", "each listed file is proven received; that no file is left out is not"
        )
    for local in local_files:
        _check_local(report, local, proven)
    return report
