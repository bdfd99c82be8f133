"""What the offline verifiers (receipts, court bundles) share: the report, canonical JSON,
the signed checkpoint and inclusion proofs.

Standard library and `cryptography` only, so an expert can run it without server or database.
Bad data never raises: every finding becomes a line of the report, so the expert sees all that
holds, all that does not, and every field that nothing proves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .commitment import opens
from .merkle import ProofError, leaf_hash, verify_inclusion
from .note import Checkpoint, NoteError, decode_base64, open_note, parse_checkpoint, split_note


def canonical_json(obj: Any) -> bytes:
    """The one byte encoding of a custody event that is hashed into the log."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass
class Report:
    checks: list[tuple[bool, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unverified: list[tuple[str, str]] = field(default_factory=list)
    """(field, why): fields the document shows that no signature or proof binds."""
    key_source: str = ""
    """"given" (key supplied by the verifier) or "receipt" (key read from the receipt)."""
    checkpoint_verified: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(passed for passed, _ in self.checks)

    def check(self, passed: bool, message: str) -> bool:
        self.checks.append((passed, message))
        return passed

    def not_verified(self, path: str, why: str) -> None:
        self.unverified.append((path, why))

    def text(self) -> str:
        lines = [f"[{'OK' if passed else 'FAIL':>4}] {message}" for passed, message in self.checks]
        lines += [f"[NOT VERIFIED] {path}: {why}" for path, why in self.unverified]
        lines += [f"[WARN] {w}" for w in self.warnings]
        result = "all checks passed" if self.ok else "VERIFICATION FAILED"
        if self.ok and self.unverified:
            result += f"; {len(self.unverified)} field(s) above are NOT VERIFIED"
        lines.append("RESULT: " + result)
        return "\n".join(lines)


def natural(v: object) -> int | None:
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
    head = f"tree size {cp.size}, root {cp.root.hex()}"
    if verified:
        report.check(True, f"checkpoint: {head}, bound by the signature")
    else:  # shown so the expert sees what was claimed, never as OK
        report.not_verified("checkpoint", f"{head}: the signature did not verify")
    return cp


def check_inclusion(
    report: Report, label: str, entry: Mapping[str, Any], data: bytes | None, cp: Checkpoint | None
) -> bool:
    """Check that `data` is the leaf `entry["leaf_index"]` names under the checkpoint."""
    raw_index = entry.get("leaf_index")
    index = natural(raw_index)
    proof = decode_proof(
        report,
        label,
        entry.get("inclusion_proof"),
        missing="inclusion proof missing or not a list of strings",
    )
    if index is None:
        return report.check(
            False, f"{label}: leaf index {raw_index!r} is not a non-negative integer"
        )
    if data is None or proof is None or cp is None:
        return False
    try:
        verify_inclusion(leaf_hash(data), index, cp.size, proof, cp.root)
    except ProofError as e:
        return report.check(False, f"{label}: inclusion proof FAILED (leaf index {index}): {e}")
    if not report.checkpoint_verified:
        report.not_verified(label, f"leaf {index} of a checkpoint whose signature did not verify")
        return False
    return report.check(True, f"{label}: inclusion proof valid, event is leaf {index} of {cp.size}")


_ABSENT = object()


def check_name(
    report: Report, path: str, entry: Mapping[str, Any], event: Mapping[str, Any] | None
) -> None:
    """The shown name against the proven event: it must open the event's name commitment."""
    name, salt = entry.get("name", _ABSENT), entry.get("name_salt")
    field = f"{path}.name"
    if name is _ABSENT:
        report.check(False, f"{field}: missing")
    elif name is None and salt is None:
        report.not_verified(field, "erased at withdrawal; the log keeps only its commitment")
    elif event is None:
        report.not_verified(field, f"{name!r}: its custody event is not proven")
    else:
        details = event.get("details")
        details = details if isinstance(details, Mapping) else {}
        if "name_commitment" in details:
            ok = opens(details["name_commitment"], name, salt)
            how = "opens" if ok else "with its name_salt does NOT open"
            report.check(ok, f"{field} {name!r} {how} the proven event's name commitment")
        else:  # an event logged before names were committed holds the name itself
            ok = name == details.get("filename", _ABSENT) and isinstance(name, str)
            report.check(
                ok,
                f"{field} {name!r} " + ("matches" if ok else "differs from") + " the proven event",
            )
