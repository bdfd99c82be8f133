"""The full custody audit behind `portal custody verify`: the log, then every original.

The custody log audit checks the entries, tree and checkpoints, and that each evidence row
names its upload.completed entry; with `check_content` every original that is not purged is
then re-hashed from storage. Both sets of findings make one report, the earliest first.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.custody.audit import END, Findings, Progress, RecordedFile, audit_log
from portal.custody.offline import Report
from portal.evidence.models import Disposition, Evidence
from portal.storage import Storage

MISSING = "is missing from storage"
CONTENT = "content"
"""The kind of finding for an original missing or changed in storage."""


def audit_log_and_content(
    db: Session,
    storage: Storage,
    *,
    verifier_key: str,
    origin: str,
    check_content: bool = True,
    progress: Progress | None = None,
) -> Report:
    """Audit the stored log (and with `check_content` the stored originals); never raises
    on bad data: every finding is a line of the report, the earliest in the log first.

    progress(phase, done, total) sees the phases "entries", "checkpoints" and "content"."""
    evidence_at = {
        int(log_index): RecordedFile(evidence_id, sha, int(size))
        for evidence_id, log_index, sha, size in db.execute(
            select(Evidence.id, Evidence.log_index, Evidence.sha256, Evidence.size)
        )
    }
    audit = audit_log(
        db, verifier_key=verifier_key, origin=origin, evidence_at=evidence_at, progress=progress
    )
    if not check_content:
        return audit.report(warnings=["evidence originals in storage were not re-hashed"])
    audit.findings.describe(CONTENT, "evidence originals missing or changed in storage")
    originals, total = _check_content(db, storage, audit.findings, progress)
    return audit.report(
        passed={
            CONTENT: f"content: {originals} originals ({total} bytes) re-hashed from storage, "
            "every SHA-256 and size matches"
        }
    )


def _check_content(
    db: Session, storage: Storage, findings: Findings, progress: Progress | None
) -> tuple[int, int]:
    """Re-hash each original not purged; return (originals, their bytes)."""
    # A purged original is meant to be gone; one whose purge is under way may be either.
    rows = db.execute(
        select(
            Evidence.id, Evidence.storage_key, Evidence.sha256, Evidence.size, Evidence.disposition
        )
        .where(or_(Evidence.disposition.is_(None), Evidence.disposition != Disposition.PURGED))
        .order_by(Evidence.received_at, Evidence.id)
    ).all()
    total = sum(int(row.size) for row in rows)
    done = 0
    results: dict[str, tuple[str, int] | str] = {}
    for evidence_id, key, sha, size, disposition in rows:
        if key not in results:
            results[key] = _rehash(storage, key, done, total, progress)
        done += int(size)
        if progress is not None:
            progress("content", done, total)
        found = results[key]
        where = f"evidence {evidence_id}: original {key}"
        if found == MISSING and disposition == Disposition.PURGING:
            continue
        if isinstance(found, str):
            findings.fail(CONTENT, END, f"{where} {found}")
            continue
        got_sha, got_size = found
        if got_sha != sha:
            findings.fail(CONTENT, END, f"{where} has SHA-256 {got_sha}, expected {sha}")
        if got_size != size:
            findings.fail(CONTENT, END, f"{where} holds {got_size} bytes, expected {size}")
    return len(rows), total


def _rehash(
    storage: Storage, key: str, done: int, total: int, progress: Progress | None
) -> tuple[str, int] | str:
    """(SHA-256, size) of the object at `key`, or why it cannot be had."""
    digest = hashlib.sha256()
    length = 0
    try:
        for block in storage.read(key):
            digest.update(block)
            length += len(block)
            if progress is not None:
                progress("content", done + length, total)
    except FileNotFoundError:  # ObjectMissing
        return MISSING
    except (OSError, ValueError) as e:  # StorageUnavailable, a bad key
        return f"cannot be read: {e}"
    return (digest.hexdigest(), length)
