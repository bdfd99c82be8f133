"""A case's court export: checked, proven against one checkpoint, written, then logged.

1. every item of the case must carry consent for `prosecution` (else 422 naming each item,
   and nothing is signed, written or logged);
2. a checkpoint is signed, and everything in the bundle is proven against that one checkpoint;
3. the bundle is written to a file (originals streamed and re-hashed as they go; bytes that no
   longer match are recorded on the item as an integrity failure);
4. only then is its SHA-256 known, and the `evidence.exported` event records it. `dest`
   appears only once that event is committed.
"""

from __future__ import annotations

import contextlib
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


def _plan(rt: Runtime, *, case_id: str, actor: str, include_witness_identity: bool) -> Plan:
    with rt.sessions() as db:
        export.exportable(db, case_id=cases.get(db, case_id=case_id).id)
    checkpoint = rt.sign_checkpoint()
    with rt.sessions() as db:
        case = cases.get(db, case_id=case_id)
        return export.plan(
            db,
            case=case,
            items=export.exportable(db, case_id=case.id),
            checkpoint=checkpoint,
            origin=rt.settings.log_origin,
            public_key=rt.log_verifier,
            actor=actor,
            include_witness_identity=include_witness_identity,
            cipher=rt.contact_cipher,
            now=rt.clock(),
        )


def _write(rt: Runtime, plan: Plan, out: Path, progress: Progress | None) -> None:
    # Imported here: the PDF and zip writers load fpdf2 and Pillow (~17 MiB a process), which
    # only an export needs, not every instance serving uploads.
    from portal.export.bundle import write_bundle

    try:
        with out.open("w+b") as f:
            write_bundle(rt.storage, plan, f, progress=progress)
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


def export_case(
    rt: Runtime,
    *,
    case_id: str,
    actor: str,
    include_witness_identity: bool,
    dest: Path,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the case's court bundle to `dest` and log it; `dest` appears only once logged."""
    plan = _plan(
        rt, case_id=case_id, actor=actor, include_witness_identity=include_witness_identity
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".export-", suffix=".partial", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _write(rt, plan, tmp, progress)
        sha, size = _sha256_file(tmp)
        with transaction(rt.sessions) as db:
            entry = export.record(
                db, plan=plan, bundle_sha256=sha, bundle_size=size, now=rt.clock()
            )
            log_index = entry.seq
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
