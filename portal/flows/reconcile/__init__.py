"""Storage against the database: what a crash left behind, and what has gone missing.

Bytes are always written before the row that names them commits, so a crash (or a race the
application resolves by giving up) can leave **orphans**: an original that landed while its
upload was terminated (consent withdrawn mid-finalise), a poster whose row never committed, a
partial whose upload row never committed, or that a finished or terminated upload failed to
clean up. The reverse, **missing** bytes (a row whose object is gone), no crash of ours
produces: it is reported for a person to look into and never "repaired".

Not reported, because another part of the portal owns it: the original and derivatives of an
item the retention purge is destroying (`purging`: three crash-safe steps, finished by the next
run) or has destroyed (`purged`: the original is rightly gone); the original an upload waiting
to be finalised will claim; partials of unfinished uploads with nothing committed yet (S3 stores
nothing for them).

Repair removes only orphans older than the upload expiry (anything younger may belong to an
upload being created or finalised right now), never bypasses Object Lock or a legal hold, never
touches keys this portal does not write, and never removes an original that the custody log
records as received: its row was lost (an old database backup restored?), and the file is
evidence. Each removal is a custody event.

Consistency without a global lock: the database is read first, then partials, then objects
(an upload finishing in between has its original listed after its partial vanished), and every
candidate is checked against the database again afterwards, and once more just before removal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from portal.custody import service as custody
from portal.custody.events import EventType
from portal.db import transaction
from portal.errors import PortalError
from portal.flows.reconcile.claims import Claims, Recheck, Snapshot, Suspects, received
from portal.flows.reconcile.report import Missing, Orphan, Report
from portal.storage import ObjectLocked, Storage, StoredObject, StoredPartial
from portal.storage.layout import DERIVED, LOG, original_sha256
from portal.uploads.models import UploadState

Progress = Callable[[str, int], None]
"""progress(phase, items so far); phases "partials", "objects", "repair"."""


def _quiet(phase: str, n: int) -> None:
    """Progress for a caller that asked for none."""


def reconcile(
    *,
    sessions: sessionmaker[Session],
    storage: Storage,
    expiry: timedelta,
    repair: bool,
    now: datetime,
    actor: str = custody.SYSTEM,
    progress: Progress | None = None,
) -> Report:
    """Compare storage with the database; with `repair`, remove old enough orphans, each
    removal logged with `actor` as who asked for it."""
    report = Report()
    tick = progress or _quiet

    # 1. The database, once. Rows created after this are caught by the checks in step 3.
    with transaction(sessions) as db:
        seen = Snapshot.read(db)

    # 2. Storage: partials first, so an upload finishing meanwhile shows its original below.
    held = _list_storage(storage, tick)
    report.partials_checked = len(held.partials)
    report.objects_checked = len(held.objects)
    suspects = seen.suspects(objects=held.objects, partials=held.partials)

    # 3. Every candidate against the database again: it may have changed while we listed.
    with transaction(sessions) as db:
        again = Recheck.read(db, suspects, partials=held.partials)

    report.missing = _missing(seen, held, suspects, again)
    report.orphans = [
        *_object_orphans(held, suspects, again.claims, now=now, expiry=expiry),
        *_partial_orphans(held, again, now=now, expiry=expiry),
    ]
    _keep_received(sessions, report.orphans)
    report.orphans.sort(key=lambda o: (o.kind, o.key))
    if repair:
        _repair(sessions, storage, report, actor=actor, now=now, tick=tick)
    return report


# --- the phases ---------------------------------------------------------------------------------


@dataclass
class _Held:
    """What storage holds, listed after the database was read."""

    partials: dict[str, StoredPartial]
    objects: dict[str, StoredObject]


def _list_storage(storage: Storage, tick: Progress) -> _Held:
    partials = {}
    for n, p in enumerate(storage.list_partials(), 1):
        partials[p.upload_id] = p
        tick("partials", n)
    objects = {}
    for n, o in enumerate(storage.list_objects(), 1):
        if not o.key.startswith(LOG):  # the custody log's own copy, write-once and locked
            objects[o.key] = o
        tick("objects", n)
    return _Held(partials, objects)


def _missing(seen: Snapshot, held: _Held, suspects: Suspects, again: Recheck) -> list[Missing]:
    """Rows whose bytes are gone, as they still stand after the listing."""
    missing = [
        Missing("evidence", evidence_id, key, "the original is not in storage")
        for evidence_id, key in again.missing_items
    ]
    for key in suspects.missing_derived:
        if key in again.derived_rows and seen.derivatives[key] not in again.purging:
            missing.append(Missing("derivative", key, key, "the object is not in storage"))
    for upload_id in suspects.gone_partials:
        status = again.claims.uploads.get(upload_id)
        if status is None or status[0] != UploadState.ACTIVE:
            continue  # finished or terminated while we listed
        offset, length = seen.unfinished[upload_id]
        if offset == length and again.claims.finalising.get(upload_id) in held.objects:
            continue  # finished into its original; the next finalise run claims it
        missing.append(
            Missing(
                "upload",
                upload_id,
                f"partial/{upload_id}",
                f"unfinished upload at offset {offset} has no partial in storage",
            )
        )
    return missing


def _kind(key: str) -> str:
    if original_sha256(key):
        return "original"
    return "derivative" if key.startswith(DERIVED) else "object"


def _orphan(
    kind: str,
    key: str,
    listed: StoredObject | StoredPartial,
    reason: str,
    *,
    now: datetime,
    expiry: timedelta,
    upload_id: str | None = None,
) -> Orphan:
    at = listed.last_modified
    age = now - at
    return Orphan(kind, key, listed.size, at, age, age > expiry, reason, upload_id=upload_id)


def _object_orphans(
    held: _Held, suspects: Suspects, claims: Claims, *, now: datetime, expiry: timedelta
) -> list[Orphan]:
    found = []
    for key in suspects.loose_objects:
        reason = claims.object_reason(key)
        if reason is None:
            continue
        item = _orphan(_kind(key), key, held.objects[key], reason, now=now, expiry=expiry)
        if item.kind == "object":
            item.keep = "not a key this portal writes: left for a person to judge"
        elif item.kind == "original" and claims.unhashed:
            item.keep = (
                f"upload {claims.unhashed[0]} waits to be finalised without its hash state: "
                "its file may land here"
            )
        found.append(item)
    return found


def _partial_orphans(
    held: _Held, again: Recheck, *, now: datetime, expiry: timedelta
) -> list[Orphan]:
    found = []
    for upload_id, p in held.partials.items():
        reason = again.claims.partial_reason(upload_id)
        if reason is None:
            continue
        item = _orphan(
            "partial",
            f"partial/{upload_id}",
            p,
            reason,
            now=now,
            expiry=expiry,
            upload_id=upload_id,
        )
        status = again.claims.uploads.get(upload_id)
        if not (upload_id.isascii() and upload_id.isalnum()):
            item.keep = "not a partial this portal writes: left for a person to judge"
        elif status is not None and status[0] == "completed":
            original = again.evidence_keys.get(status[1] or "")
            if original is None or original not in held.objects:
                item.keep = "its item's original is not in storage: this may be the only copy"
        found.append(item)
    return found


def _keep_received(sessions: sessionmaker[Session], orphans: list[Orphan]) -> None:
    # An original that the log says a witness was given a receipt for is evidence, row or not.
    unclaimed = {
        sha: o for o in orphans if o.reason == "no evidence row" and (sha := o.sha256) is not None
    }
    if unclaimed:
        for sha, seq in received(sessions, set(unclaimed)).items():
            unclaimed[sha].keep = (
                f"the custody log records it as received (entry {seq}) but no row holds it: "
                "restore the database rather than remove the file"
            )


def _repair(
    sessions: sessionmaker[Session],
    storage: Storage,
    report: Report,
    *,
    actor: str,
    now: datetime,
    tick: Progress,
) -> None:
    done = 0
    for item in report.orphans:
        if item.removable:
            _remove(sessions, storage, item, actor=actor, now=now)
            if item.outcome == "removed":
                report.repaired.append(item)
            done += 1
            tick("repair", done)


# --- removal ------------------------------------------------------------------------------------


def _still_orphan(db: Session, item: Orphan) -> bool:
    if item.upload_id is not None:
        claims = Claims.read(db, keys=[], upload_ids=[item.upload_id])
        return claims.partial_reason(item.upload_id) is not None
    claims = Claims.read(db, keys=[item.key], upload_ids=[])
    if item.kind == "original" and claims.unhashed:
        return False  # an upload that may land here lost its hash state meanwhile
    return claims.object_reason(item.key) is not None


def _removal(item: Orphan) -> dict[str, Any]:
    """What a storage.orphan_removed event says of the object."""
    details: dict[str, Any] = {
        "key": item.key,
        "kind": item.kind,
        "size": item.size,
        "last_modified": custody.rfc3339(item.last_modified),
        "reason": item.reason,
    }
    if item.sha256:
        details["sha256"] = item.sha256
    if item.upload_id:
        details["upload"] = item.upload_id
    return details


def _remove(
    sessions: sessionmaker[Session], storage: Storage, item: Orphan, *, actor: str, now: datetime
) -> None:
    """Record, then delete; a refusal is recorded too.

    The event is committed before the delete, never after: a crash in between leaves the
    intent on record and the object in place, and the next run removes it with a new event.
    The other order could destroy bytes with nothing on record. Nothing can change this
    object's row in the same transaction (it has none), so the check that it is still an
    orphan runs under the same write lock as the append.
    """
    with transaction(sessions) as db:
        if not _still_orphan(db, item):
            item.keep = "claimed by a row since it was listed"
            return
        entry = custody.append(
            db,
            type=EventType.STORAGE_ORPHAN_REMOVED,
            actor=actor,
            subject="storage",
            details=_removal(item),
            at=now,
        )
        item.log_index = entry.seq
    try:
        if item.upload_id is not None:
            storage.delete_partial(item.upload_id, None)
        else:
            storage.delete(item.key)
    except ObjectLocked as exc:
        item.outcome, item.error = "locked", exc.message
    except (PortalError, OSError, ValueError) as exc:  # storage down, a bad key
        item.outcome, item.error = "failed", str(exc)
    else:
        item.outcome = "removed"
        return
    with transaction(sessions) as db:
        custody.append(
            db,
            type=EventType.STORAGE_ORPHAN_KEPT,
            actor=actor,
            subject="storage",
            details={
                "key": item.key,
                "removal": item.log_index,
                "outcome": item.outcome,
                "error": item.error,
            },
            at=now,
        )


__all__ = ["Missing", "Orphan", "Progress", "Report", "reconcile"]
