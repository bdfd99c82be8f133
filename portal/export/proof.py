"""The export proof: the bundle member that binds `manifest.json` to the signed log.

The manifest cannot carry the proof of its own logging, so the bundle holds a second member,
`export-proof.json`: the `evidence.exported` event (which names the manifest's SHA-256), its
leaf index, its inclusion proof and a checkpoint signed after it. Once that holds, every field
of the manifest (case, exporter, times, names, consent) is what the portal logged as exported.
Without it, those fields are reported as not verified.

Offline like `portal.export.verify`: the standard library, `cryptography` and the custody
log's `offline` module only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from portal.custody.offline import Report, canonical_json, check_checkpoint, check_inclusion

MANIFEST = "manifest.json"
EXPORT_PROOF = "export-proof.json"
PROOF_FIELDS = frozenset({"checkpoint", "leaf_index", "event", "inclusion_proof"})
EXPORTED = "evidence.exported"
_FILE_FIELDS = ("name", "media_type", "received_at", "consent", "witness", "witness_data")
_TOP_FIELDS = (
    "case",
    "exported_at",
    "exported_by",
    "include_witness_identity",
    "include_witness_data",
    "withheld",
)


def proof_document(*, checkpoint: str, leaf_index: int, event: str, proof: list[str]) -> bytes:
    """The member's bytes, as the portal writes them (base64 proof hashes)."""
    doc = {"checkpoint": checkpoint, "leaf_index": leaf_index, "event": event}
    return json.dumps({**doc, "inclusion_proof": proof}, indent=2).encode("utf-8")


def _parse(report: Report, raw: bytes | str) -> dict[str, Any] | None:
    if isinstance(raw, str):  # why the member could not be read
        report.check(False, f"{EXPORT_PROOF} {raw}")
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        report.check(False, f"{EXPORT_PROOF}: not readable JSON: {e}")
        return None
    if not isinstance(doc, dict) or set(doc) != PROOF_FIELDS:
        found = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        report.check(False, f"{EXPORT_PROOF}: holds {found}, not exactly {sorted(PROOF_FIELDS)}")
        return None
    return doc


def _event(report: Report, doc: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]] | None:
    text = doc["event"]
    try:
        data = text.encode("utf-8") if isinstance(text, str) else b""
        obj = json.loads(data) if data else None
    except (UnicodeEncodeError, ValueError) as e:
        report.check(False, f"export event: not valid JSON: {e}")
        return None
    if not isinstance(obj, dict) or canonical_json(obj) != data:
        report.check(False, "export event: not a canonical JSON object, so not what was logged")
        return None
    return data, obj


def _binds(
    report: Report, obj: Mapping[str, Any], index: object, manifest: Mapping[str, Any], raw: bytes
) -> bool:
    """Whether the proven event is this bundle's export, naming exactly these manifest bytes."""
    details = obj.get("details")
    details = details if isinstance(details, Mapping) else {}
    case = manifest.get("case")
    case_id = case.get("id") if isinstance(case, Mapping) else None
    digest = hashlib.sha256(raw).hexdigest()
    wrong = [
        what
        for what, same in [
            (f"type {obj.get('type')!r}", obj.get("type") == EXPORTED),
            (f"seq {obj.get('seq')!r}", obj.get("seq") == index and type(index) is int),
            (f"case {obj.get('subject')!r}", case_id is not None and obj.get("subject") == case_id),
            (f"exporter {obj.get('actor')!r}", obj.get("actor") == manifest.get("exported_by")),
            (
                f"manifest SHA-256 {details.get('manifest_sha256')!r}",
                details.get("manifest_sha256") == digest,
            ),
        ]
        if not same
    ]
    return report.check(
        not wrong,
        f"export event: is the {EXPORTED} event of case {case_id!r}, recording {MANIFEST} "
        f"SHA-256 {digest}"
        if not wrong
        else f"export event: does NOT record this {MANIFEST} (SHA-256 {digest}): "
        + ", ".join(wrong),
    )


def _proven(
    report: Report,
    raw: bytes | str,
    manifest: Mapping[str, Any],
    manifest_raw: bytes,
    key: str | None,
) -> int | None:
    """The export event's leaf index once everything about the proof holds, else None."""
    doc = _parse(report, raw)
    if doc is None:
        return None
    # A report of its own, so the lines about this second checkpoint say which one they mean.
    sub = Report()
    cp = check_checkpoint(
        sub, {"log": manifest.get("log"), "checkpoint": doc["checkpoint"]}, key, kind="bundle"
    )
    event = _event(sub, doc)
    proven = check_inclusion(sub, "export event", doc, event[0] if event else None, cp)
    bound = event is not None and _binds(sub, event[1], doc["leaf_index"], manifest, manifest_raw)
    report.checks += [(ok, f"{EXPORT_PROOF}: {m}") for ok, m in sub.checks]
    report.unverified += [(f"{EXPORT_PROOF}:{p}", why) for p, why in sub.unverified]
    report.warnings += [w for w in sub.warnings if w not in report.warnings]
    ok = proven and bound and sub.checkpoint_verified and sub.ok
    return doc["leaf_index"] if ok else None


def check_export_proof(
    report: Report,
    raw: bytes | str,
    manifest: Mapping[str, Any],
    manifest_raw: bytes,
    verifier_key: str | None,
) -> None:
    """Check the export proof (`raw`: its bytes, or why they could not be read); when it does
    not hold, name every manifest field that nothing else binds as not verified."""
    index = _proven(report, raw, manifest, manifest_raw, verifier_key)
    if index is not None:
        report.check(
            True,
            f"{MANIFEST}: every field (case, exporter, times, file names, consent) is as "
            f"the portal logged it in its {EXPORTED} event {index}, proven by the export proof",
        )
        return
    why = f"{MANIFEST} is not bound to the log: its export proof does not hold"
    for field in _TOP_FIELDS:
        if field in manifest:
            report.not_verified(field, why)
    files = manifest.get("files")
    for i, entry in enumerate(files if isinstance(files, list) else []):
        for field in _FILE_FIELDS:
            if isinstance(entry, Mapping) and field in entry:
                report.not_verified(f"files[{i}].{field}", why)
    docs = manifest.get("documents")
    for i, doc in enumerate(docs if isinstance(docs, list) else []):
        for field in ("media_type", "description"):
            if isinstance(doc, Mapping) and field in doc:
                report.not_verified(f"documents[{i}].{field}", why)


__all__ = ["EXPORT_PROOF", "MANIFEST", "check_export_proof", "proof_document"]
