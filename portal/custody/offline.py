"""Offline verification of a witness receipt, for a court expert without server or database.

Standard library and `cryptography` only. Bad data never raises: every finding becomes a
line of the report, so the expert sees all that holds and all that does not.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .merkle import ProofError, leaf_hash, verify_inclusion
from .note import Checkpoint, NoteError, decode_base64, open_note, parse_checkpoint, split_note

RECEIPT_FORMAT = "portal-receipt/1"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def canonical_json(obj: Any) -> bytes:
    """The one byte encoding of a custody event that is hashed into the log."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass
class Report:
    checks: list[tuple[bool, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    key_source: str = ""
    """"given" (key supplied by the verifier) or "receipt" (key read from the receipt)."""
    checkpoint_verified: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(passed for passed, _ in self.checks)

    def check(self, passed: bool, message: str) -> bool:
        self.checks.append((passed, message))
        return passed

    def text(self) -> str:
        lines = [f"[{'OK' if passed else 'FAIL':>4}] {message}" for passed, message in self.checks]
        lines += [f"[WARN] {w}" for w in self.warnings]
        lines.append("RESULT: " + ("all checks passed" if self.ok else "VERIFICATION FAILED"))
        return "\n".join(lines)


def load_receipt(path: Path) -> Mapping[str, Any]:
    """Read a receipt file; ValueError if it is not a JSON object."""
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not readable JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def _natural(v: object) -> int | None:
    """v if it is a JSON integer >= 0 (bool is an int subclass in Python, not in JSON)."""
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def decode_proof(report: Report, label: str, raw: object, *, missing: str) -> list[bytes] | None:
    """The hashes of an inclusion proof, or None once the report says why they are unusable;
    `missing` is the finding when the proof is not a list of strings."""
    if not (isinstance(raw, list) and all(isinstance(p, str) for p in raw)):
        report.check(False, f"{label}: {missing}")
        return None
    try:
        return [decode_base64(p) for p in raw]
    except NoteError as e:
        report.check(False, f"{label}: inclusion proof has bad base64: {e}")
        return None


def _choose_key(
    report: Report, named_key: object, verifier_key: str | None, kind: str
) -> tuple[str | None, str]:
    """The key to check the checkpoint with, and where it came from, in the report's words."""
    if verifier_key is not None:
        report.key_source = "given"
        if isinstance(named_key, str) and named_key != verifier_key:
            report.warnings.append(
                f"the {kind} names a different log key than the one given; "
                "only the given key was used"
            )
        return verifier_key, "the key given for this verification"
    if isinstance(named_key, str):
        report.key_source = kind
        report.warnings.append(
            f"the log key was taken from the {kind} itself: this shows only that the {kind} "
            "is internally consistent, not that the portal issued it (a forger can sign with "
            "a key of their own). Verify again with the log's public key obtained from an "
            "independent, trusted source."
        )
        return named_key, f"the key embedded in the {kind}"
    report.check(False, f"checkpoint signature: no key given and the {kind} names none")
    return None, ""


def _open_checkpoint(
    report: Report, note: str, key: str | None, source: str
) -> tuple[str, bool] | None:
    """The checkpoint body and whether its signature verified; None if it is no signed note."""
    if key is not None:
        try:
            text = open_note(note, key)
        except ValueError as e:  # NoteError, or a key the crypto library refuses
            report.check(False, f"checkpoint signature INVALID with {source}: {e}")
        else:
            return text, report.check(
                True, f"checkpoint signature valid, key {key.split('+', 2)[0]!r} ({source})"
            )
    # Keep checking against the unverified body, so the report shows what else holds.
    try:
        text, _ = split_note(note)
    except NoteError as e:
        report.check(False, f"checkpoint is not a signed note: {e}")
        return None
    return text, False


def check_checkpoint(
    report: Report, document: Mapping[str, Any], verifier_key: str | None, *, kind: str
) -> Checkpoint | None:
    """Check the signed checkpoint a receipt or bundle carries (`kind` names which).

    Used by receipts and court bundles alike: the key given wins over the one the document
    names, and an unverified checkpoint is still parsed so the report shows what else holds.
    """
    log = document.get("log")
    log = log if isinstance(log, Mapping) else {}
    origin = log.get("origin")
    note = document.get("checkpoint")
    if not isinstance(note, str):
        report.check(False, "checkpoint: missing or not a string")
        return None
    key, source = _choose_key(report, log.get("public_key"), verifier_key, kind)
    opened = _open_checkpoint(report, note, key, source)
    if opened is None:
        return None
    text, verified = opened
    try:
        cp = parse_checkpoint(text)
    except NoteError as e:
        report.check(False, f"checkpoint body malformed: {e}")
        return None
    report.check(
        cp.origin == origin,
        f"checkpoint origin {cp.origin!r} "
        + (
            "matches the log origin"
            if cp.origin == origin
            else f"differs from log origin {origin!r}"
        ),
    )
    if key is not None and key.split("+", 1)[0] != cp.origin:
        report.warnings.append("the signing key's name differs from the checkpoint origin")
    report.checkpoint_verified = verified
    suffix = "" if verified else " (UNVERIFIED)"
    report.checks.append((True, f"checkpoint: tree size {cp.size}, root {cp.root.hex()}{suffix}"))
    return cp


def _check_event(
    report: Report, label: str, text: object, sha: str | None, size: int | None
) -> bytes | None:
    """Check a file's custody event against the receipt; its bytes, for the inclusion proof."""
    if not isinstance(text, str):
        report.check(False, f"{label}: custody event missing or not a string")
        return None
    data: bytes | None = None
    try:
        data = text.encode("utf-8")
        event = json.loads(text)
        canonical = canonical_json(event) == data
    except (UnicodeEncodeError, ValueError) as e:
        # Not JSON, but still bytes whose inclusion in the log can be checked.
        report.check(False, f"{label}: custody event is not valid JSON: {e}")
        return data
    report.check(
        canonical,
        f"{label}: custody event is canonical JSON"
        if canonical
        else f"{label}: custody event is NOT canonical JSON (its bytes differ from the "
        "canonical encoding, so they are not what the log should have hashed)",
    )
    details = event.get("details") if isinstance(event, dict) else None
    if isinstance(details, dict):
        for key, want in (("sha256", sha), ("size", size)):
            got = details.get(key)
            same = want is not None and got == want and type(got) is type(want)
            report.check(
                same,
                f"{label}: event {key} {got!r} "
                + ("matches the receipt" if same else f"differs from receipt {want!r}"),
            )
    elif event is not None:
        report.check(False, f"{label}: custody event has no details object")
    return data


def _check_inclusion(
    report: Report, label: str, entry: Mapping[str, Any], data: bytes | None, cp: Checkpoint | None
) -> None:
    raw_index = entry.get("leaf_index")
    index = _natural(raw_index)
    proof = decode_proof(
        report,
        label,
        entry.get("inclusion_proof"),
        missing="inclusion proof missing or not a list of strings",
    )
    if index is None:
        report.check(False, f"{label}: leaf index {raw_index!r} is not a non-negative integer")
    elif data is not None and proof is not None and cp is not None:
        try:
            verify_inclusion(leaf_hash(data), index, cp.size, proof, cp.root)
            against = "" if report.checkpoint_verified else " of the UNVERIFIED checkpoint"
            report.check(
                True, f"{label}: inclusion proof valid, event is leaf {index} of {cp.size}{against}"
            )
        except ProofError as e:
            report.check(False, f"{label}: inclusion proof FAILED (leaf index {index}): {e}")


def _check_file(
    report: Report, i: int, entry: object, cp: Checkpoint | None, local: Path | None
) -> None:
    if not isinstance(entry, Mapping):
        report.check(False, f"files[{i}]: not an object")
        return
    name = entry.get("name")
    label = f"file {name!r}" if isinstance(name, str) else f"files[{i}]"
    raw_size, sha = entry.get("size"), entry.get("sha256")
    size = _natural(raw_size)
    if size is None:
        report.check(False, f"{label}: size {raw_size!r} is not a non-negative integer")
    if not (isinstance(sha, str) and _SHA256_HEX.fullmatch(sha)):
        report.check(False, f"{label}: sha256 {sha!r} is not 64 lowercase hex digits")
        sha = None
    data = _check_event(report, label, entry.get("event"), sha, size)
    _check_inclusion(report, label, entry, data, cp)
    if local is not None:
        _check_local(report, label, local, sha, size)


def _check_local(report: Report, label: str, path: Path, sha: str | None, size: int | None) -> None:
    try:
        with path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
            length = f.tell()
    except OSError as e:
        report.check(False, f"{label}: local file {path} unreadable: {e}")
        return
    report.check(
        digest == sha,
        f"{label}: local file {path} sha256 {digest} "
        + ("matches" if digest == sha else f"differs from receipt {sha}"),
    )
    report.check(
        length == size,
        f"{label}: local file {path} size {length} "
        + ("matches" if length == size else f"differs from receipt {size}"),
    )


def verify_receipt(
    receipt: Mapping[str, Any],
    verifier_key: str | None = None,
    file_bytes: Mapping[str, Path] | None = None,
) -> Report:
    """Check a receipt; `file_bytes` maps file names in the receipt to local copies."""
    if not isinstance(receipt, Mapping):
        raise ValueError("a receipt must be a JSON object")
    report = Report()
    fmt = receipt.get("format")
    report.check(
        fmt == RECEIPT_FORMAT,
        f"receipt format {fmt!r}"
        + ("" if fmt == RECEIPT_FORMAT else f", expected {RECEIPT_FORMAT!r}"),
    )
    cp = check_checkpoint(report, receipt, verifier_key, kind="receipt")

    files = receipt.get("files")
    if not isinstance(files, list) or not files:
        report.check(False, "receipt lists no files")
        files = []
    local = dict(file_bytes or {})
    for i, entry in enumerate(files):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        _check_file(report, i, entry, cp, local.pop(name, None) if isinstance(name, str) else None)
    for name in local:
        report.check(False, f"local file given for {name!r}, which the receipt does not list")
    return report
