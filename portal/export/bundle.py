"""The bundle zip: manifest, custody report (PDF), CASE/UCO JSON-LD, the originals, and last
the export proof that binds the manifest to the log (added once the export is logged).

Originals are streamed from storage into the zip block by block (never whole in memory),
stored uncompressed (video does not compress, and a stored member is the file's bytes), and
re-hashed on the way: bytes that no longer match their SHA-256 abort the export and are
logged as an integrity failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from datetime import datetime
from typing import IO, Any

from portal.errors import PortalError
from portal.export import caseuco, redacted, report
from portal.export.derivatives import named
from portal.export.plan import CopyPlan, ItemPlan, Plan, Progress
from portal.export.proof import EXPORT_PROOF
from portal.export.service import BundleIntegrityError
from portal.export.verify import BUNDLE_FORMAT, MANIFEST
from portal.storage import ObjectMissing, Storage

REPORT = "custody-report.pdf"
JSONLD = "custody.jsonld"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def manifest(plan: Plan, documents: list[dict[str, Any]]) -> dict[str, Any]:
    files = []
    parsed = {n: json.loads(ev.text) for n, ev in plan.events.items()}
    for item in plan.items:
        entry: dict[str, Any] = {
            "evidence_id": item.evidence_id,
            # With its salt the name opens the commitment in upload.completed; null once
            # erased at withdrawal.
            "name": item.filename if item.name_salt or item.filename else None,
            "name_salt": item.name_salt,
            "path": item.path,
            "size": item.size,
            "sha256": item.sha256,
            "media_type": item.media_type,
            "received_at": item.received_at,
            "submission": item.submission_id,
            "consent": item.consent,
            "leaf_index": item.log_index,
            "events": item.events,
            # Review copies and posters are not exported; named so none passes for the original.
            "derivatives": named(((n, parsed.get(n)) for n in item.events), item.sha256),
        }
        if item.witness is not None:
            entry["witness"] = item.witness
        if item.copies:
            entry["redacted_copies"] = [redacted.manifest_entry(c) for c in item.copies]
        if item.witness_data is not None:
            entry["witness_data"] = item.witness_data
        files.append(entry)
    return {
        "format": BUNDLE_FORMAT,
        "case": {
            "id": plan.case.id,
            "title": plan.case.title,
            "reference": plan.case.reference,
            "offense": plan.case.offense,
            "status": plan.case.status,
            "created_at": plan.case.created_at,
        },
        "exported_at": plan.exported_at,
        "exported_by": plan.exported_by,
        "include_witness_identity": plan.include_witness_identity,
        "include_witness_data": plan.include_witness_data,
        "withheld": plan.withheld,
        "log": {"origin": plan.origin, "public_key": plan.public_key},
        "checkpoint": plan.checkpoint_note,
        **({"timestamp": plan.timestamp} if plan.timestamp is not None else {}),
        "files": files,
        "events": [
            {
                "leaf_index": ev.index,
                "event": ev.text,
                "inclusion_proof": [_b64(h) for h in ev.proof],
            }
            for ev in sorted(plan.events.values(), key=lambda e: e.index)
        ],
        "case_events": plan.case_events,
        "documents": documents,
    }


_ZipTime = tuple[int, int, int, int, int, int]


def _zip_time(at: str) -> _ZipTime:
    t = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return (max(t.year, 1980), t.month, t.day, t.hour, t.minute, t.second)


_Document = tuple[str, bytes, str, str]
"""(path in the zip, bytes, media type, description) of a document made for the bundle."""


def _documents(plan: Plan) -> list[_Document]:
    return [
        (REPORT, report.render(plan), "application/pdf", "custody report, one section per item"),
        (JSONLD, caseuco.render(plan), "application/ld+json", "custody history as CASE/UCO"),
    ]


def _listed(docs: list[_Document]) -> list[dict[str, Any]]:
    """The manifest's entries for the documents, with the hashes the verifier checks."""
    return [
        {
            "path": path,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "media_type": media_type,
            "description": description,
        }
        for path, data, media_type, description in docs
    ]


def _copy_original(
    zf: zipfile.ZipFile,
    storage: Storage,
    item: ItemPlan,
    when: _ZipTime,
    *,
    progress: Progress | None,
    done: int,
    total: int,
) -> None:
    """Stream one original into the zip, re-hashing it on the way."""
    info = zipfile.ZipInfo(item.path, when)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o444 << 16
    info.file_size = item.size  # lets zipfile choose ZIP64 up front for big files
    digest = hashlib.sha256()
    length = 0
    try:
        with zf.open(info, "w") as dst:
            for block in storage.read(item.storage_key, 0, item.size):
                digest.update(block)
                dst.write(block)
                length += len(block)
                if progress is not None:
                    progress(done + length, total)
    except ObjectMissing:
        raise PortalError(
            f"the original of item {item.evidence_id} is missing from storage; "
            "nothing was exported",
            code="original_missing",
            status=500,
        ) from None
    if digest.hexdigest() != item.sha256 or length != item.size:
        raise BundleIntegrityError(
            f"stored bytes of item {item.evidence_id} no longer match their SHA-256; "
            "nothing was exported",
            evidence_id=item.evidence_id,
            actual_sha256=digest.hexdigest(),
        )


def _deflated(zf: zipfile.ZipFile, path: str, data: bytes, when: _ZipTime) -> None:
    info = zipfile.ZipInfo(path, when)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def write_bundle(
    storage: Storage, plan: Plan, out: IO[bytes], *, progress: Progress | None
) -> bytes:
    """Write the zip, all but its export proof, to `out` (a seekable binary file); return the
    manifest's bytes, whose SHA-256 the export event records."""
    when = _zip_time(plan.exported_at)
    docs = _documents(plan)
    body = json.dumps(manifest(plan, _listed(docs)), indent=2, ensure_ascii=False).encode("utf-8")

    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for path, data in [(MANIFEST, body), *((p, d) for p, d, _, _ in docs)]:
            _deflated(zf, path, data, when)
        total = sum(i.size for i in {i.path: i for i in plan.items}.values())
        done = 0
        if progress is not None:
            progress(done, total)
        written: set[str] = set()
        for item in plan.items:
            if item.path in written:  # the same bytes under the same name: one copy
                continue
            written.add(item.path)
            _copy_original(zf, storage, item, when, progress=progress, done=done, total=total)
            done += item.size
        for copy in {c.path: c for item in plan.items for c in item.copies}.values():
            _copy_redacted(zf, storage, copy, when)
    return body


def _copy_redacted(zf: zipfile.ZipFile, storage: Storage, copy: CopyPlan, when: _ZipTime) -> None:
    """A redacted copy under `redacted/`, checked against the hash its provenance records."""
    data = b"".join(storage.read(copy.storage_key))
    if hashlib.sha256(data).hexdigest() != copy.sha256:
        raise PortalError(
            f"the stored redacted copy {copy.redaction_id} no longer matches its SHA-256; "
            "nothing was exported",
            code="copy_integrity",
            status=500,
        )
    info = zipfile.ZipInfo(copy.path, when)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o444 << 16
    zf.writestr(info, data)


def add_export_proof(out: IO[bytes], plan: Plan, proof: bytes) -> None:
    """Append the export proof (`portal.export.proof`) to the bundle written to `out`."""
    with zipfile.ZipFile(out, "a", allowZip64=True) as zf:
        _deflated(zf, EXPORT_PROOF, proof, _zip_time(plan.exported_at))
