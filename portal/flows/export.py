"""A case's court export: checked, proven against one checkpoint, written, then logged.

1. every item of the case must carry consent for `prosecution` (else 422 naming each item,
   and nothing is signed, written or logged);
2. a checkpoint is signed, and everything in the bundle is proven against that one checkpoint;
3. the bundle is written to a file (originals streamed and re-hashed as they go; bytes that no
   longer match are recorded on the item as an integrity failure);
4. the `evidence.exported` event records the manifest's SHA-256 (the manifest names the hash
   of every other member);
5. a checkpoint is signed after that event, and the export proof is added to the bundle, so
   the manifest is bound to the log offline. `dest` appears only once all this is done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path

from portal.cases import service as cases
from portal.db import transaction
from portal.evidence import service as evidence
from portal.export import service as export
from portal.export.plan import ExportResult, Plan, Progress
from portal.export.service import BundleIntegrityError
from portal.runtime import Runtime


def _sha256_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        return digest.hexdigest(), f.tell()


def _plan(
    rt: Runtime,
    *,
    case_id: str,
    actor: str,
    include_witness_identity: bool,
    include_witness_data: bool = False,
    only: list[str] | None = None,
) -> Plan:
    with rt.sessions() as db:
        export.exportable(db, case_id=cases.get(db, case_id=case_id).id, only=only)
    checkpoint = rt.sign_checkpoint()
    # A staff export may wait for the TSA (at most PORTAL_TSA_TIMEOUT); without an answer
    # the bundle goes without a timestamp, as a receipt does.
    rt.timestamp_checkpoints()
    with rt.sessions() as db:
        case = cases.get(db, case_id=case_id)
        return export.plan(
            db,
            case=case,
            # A share's bundle holds its chosen items only.
            items=export.exportable(db, case_id=case.id, only=only),
            checkpoint=checkpoint,
            origin=rt.settings.log_origin,
            public_key=rt.log_verifier,
            actor=actor,
            include_witness_identity=include_witness_identity,
            cipher=rt.contact_cipher,
            now=rt.clock(),
            include_witness_data=include_witness_data,
        )


def _write(rt: Runtime, plan: Plan, out: Path, progress: Progress | None) -> bytes:
    """Write the bundle but its export proof; return the manifest's bytes."""
    # Imported here: the PDF and zip writers load fpdf2 and Pillow (~17 MiB a process), which
    # only an export needs, not every instance serving uploads.
    from portal.export.bundle import write_bundle

    try:
        with out.open("w+b") as f:
            manifest = write_bundle(rt.storage, plan, f, progress=progress)
            f.flush()
            os.fsync(f.fileno())
    except BundleIntegrityError as exc:
        with transaction(rt.sessions) as db:
            evidence.record_integrity_failure(
                db,
                item=evidence.get(db, evidence_id=exc.evidence_id),
                actual_sha256=exc.actual_sha256,
                now=rt.clock(),
            )
        raise
    return manifest


def _prove(rt: Runtime, plan: Plan, out: Path, log_index: int) -> None:
    """Add the export proof: the export event proven against a checkpoint signed after it."""
    from portal.export.bundle import add_export_proof

    checkpoint = rt.sign_checkpoint()
    with rt.sessions() as db:
        proof = export.export_proof(db, index=log_index, checkpoint=checkpoint)
    with out.open("r+b") as f:
        add_export_proof(f, plan, proof)
        f.flush()
        os.fsync(f.fileno())


def export_case(
    rt: Runtime,
    *,
    case_id: str,
    actor: str,
    include_witness_identity: bool,
    dest: Path,
    progress: Progress | None = None,
    language: str = "en",
    include_witness_data: bool = False,
    only: list[str] | None = None,
) -> ExportResult:
    """Write the case's court bundle to `dest` and log it; `dest` appears only once logged.
    `language` is the custody report's (`en` or `es`); `only` keeps those items of the case."""
    plan = _plan(
        rt,
        case_id=case_id,
        actor=actor,
        include_witness_identity=include_witness_identity,
        include_witness_data=include_witness_data,
        only=only,
    )
    plan = dataclasses.replace(plan, language=language)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".export-", suffix=".partial", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        manifest = _write(rt, plan, tmp, progress)
        with transaction(rt.sessions) as db:
            log_index = export.record(db, plan=plan, manifest=manifest, now=rt.clock()).seq
        _prove(rt, plan, tmp, log_index)
        sha, size = _sha256_file(tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return ExportResult(
        path=dest,
        sha256=sha,
        size=size,
        log_index=log_index,
        items=[i.evidence_id for i in plan.items],
    )
