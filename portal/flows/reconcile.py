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

import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import rehashes
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portal.custody import service as custody
from portal.custody.events import EventType
from portal.custody.models import LogEntry
from portal.db import transaction
from portal.errors import PortalError
from portal.evidence.models import Derivative, Evidence
from portal.storage import ObjectLocked, Storage
from portal.uploads.models import Upload

Progress = Callable[[str, int], None]
"""progress(phase, items so far); phases "partials", "objects", "repair"."""

ORIGINAL = re.compile(r"sha256/([0-9a-f]{64})")
DERIVED = "derived/"
BATCH = 500  # keys per IN (...) query
LOG_BATCH = 5000  # upload.completed events per read of the log


@dataclass
class Orphan:
    kind: str
    """original, derivative, partial, or object (a key this portal does not write)."""
    key: str
    """The storage key; `partial/<upload id>` for a partial."""
    size: int
    last_modified: datetime
    age: timedelta
    old_enough: bool
    """Older than the upload expiry: nothing in flight can still claim it."""
    reason: str
    """Why no row claims it."""
    upload_id: str | None = None
    keep: str | None = None
    """Why repair leaves it even when old enough."""
    outcome: str | None = None
    """After a repair attempt: removed, locked, or failed (see `error`)."""
    error: str | None = None
    log_index: int | None = None
    """Seq of its storage.orphan_removed event."""

    @property
    def removable(self) -> bool:
        return self.old_enough and self.keep is None

    @property
    def sha256(self) -> str | None:
        m = ORIGINAL.fullmatch(self.key) if self.kind == "original" else None
        return m.group(1) if m else None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "upload_id": self.upload_id,
            "size": self.size,
            "last_modified": custody.rfc3339(self.last_modified),
            "age_seconds": int(self.age.total_seconds()),
            "old_enough": self.old_enough,
            "removable": self.removable,
            "reason": self.reason,
            "keep_reason": self.keep,
            "outcome": self.outcome,
            "error": self.error,
            "log_index": self.log_index,
        }


@dataclass(frozen=True)
class Missing:
    kind: str
    """The row's kind: evidence, derivative or upload."""
    id: str
    """Evidence id, derivative key, or upload id."""
    key: str
    """Where its bytes should be; `partial/<upload id>` for an upload."""
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "key": self.key, "reason": self.reason}


@dataclass
class Report:
    orphans: list[Orphan] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    repaired: list[Orphan] = field(default_factory=list)
    objects_checked: int = 0
    partials_checked: int = 0

    @property
    def clean(self) -> bool:
        """Nothing is left to look at: no missing bytes, and every orphan was removed."""
        return not self.missing and all(o.outcome == "removed" for o in self.orphans)

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "orphans": [o.to_json() for o in self.orphans],
            "missing": [m.to_json() for m in self.missing],
            "repaired": [
                {
                    "kind": o.kind,
                    "key": o.key,
                    "upload_id": o.upload_id,
                    "size": o.size,
                    "sha256": o.sha256,
                    "log_index": o.log_index,
                }
                for o in self.repaired
            ],
        }


# --- what the database claims -------------------------------------------------------------------


def _batches(items: Iterable[str]) -> Iterator[list[str]]:
    it = iter(items)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def _key_states(db: Session, keys: Iterable[str] | None = None) -> dict[str, str]:
    """Storage key -> live (an item needs it), purging, or purged (every item destroyed)."""
    rank = {None: 2, "purging": 1, "purged": 0}
    names = {2: "live", 1: "purging", 0: "purged"}
    best: dict[str, int] = {}
    query = select(Evidence.storage_key, Evidence.disposition)
    selects = (
        [query]
        if keys is None
        else [query.where(Evidence.storage_key.in_(b)) for b in _batches(keys)]
    )
    for q in selects:
        for key, disposition in db.execute(q):
            r = rank.get(disposition, 2)
            best[key] = max(best.get(key, r), r)
    return {k: names[r] for k, r in best.items()}


def _finalising(db: Session) -> dict[str, str | None]:
    """Uploads waiting to be finalised -> the original they will land at (None: their hash
    state was lost, so the key cannot be known without reading the bytes)."""
    return {
        upload_id: None
        if state is None
        else f"sha256/{rehashes.PySha256.deserialize(state).finalize()}"
        for upload_id, state in db.execute(
            select(Upload.id, Upload.hash_state).where(
                Upload.status == "active",
                Upload.length.is_not(None),
                Upload.offset == Upload.length,
            )
        )
    }


def _upload_status(db: Session, ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for batch in _batches(ids):
        for upload_id, status, evidence_id in db.execute(
            select(Upload.id, Upload.status, Upload.evidence_id).where(Upload.id.in_(batch))
        ):
            out[upload_id] = (status, evidence_id)
    return out


def _derivative_keys(db: Session, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for batch in _batches(keys):
        found.update(db.scalars(select(Derivative.key).where(Derivative.key.in_(batch))))
    return found


@dataclass
class _Claims:
    """What the database says about a set of keys and upload ids, read in one transaction."""

    keys: dict[str, str]
    derivatives: set[str]
    finalising: dict[str, str | None]
    uploads: dict[str, tuple[str, str | None]]

    @classmethod
    def read(cls, db: Session, *, keys: list[str], upload_ids: list[str]) -> _Claims:
        return cls(
            keys=_key_states(db, keys),
            derivatives=_derivative_keys(db, keys),
            finalising=_finalising(db),
            uploads=_upload_status(db, upload_ids),
        )

    @property
    def unhashed(self) -> list[str]:
        return [u for u, key in self.finalising.items() if key is None]

    def object_reason(self, key: str) -> str | None:
        """Why nothing claims the object at `key`, or None when something does."""
        state = self.keys.get(key)
        if state is not None and state != "purged":
            return None
        if key in self.derivatives or key in self.finalising.values():
            return None
        if state == "purged":
            return "every item it held was destroyed by retention"
        if ORIGINAL.fullmatch(key):
            return "no evidence row"
        return "no derivative row" if key.startswith(DERIVED) else "no database row"

    def partial_reason(self, upload_id: str) -> str | None:
        found = self.uploads.get(upload_id)
        if found is None:
            return "no upload row"
        status = found[0]
        return None if status == "active" else f"upload {status}"


def _received(sessions: sessionmaker[Session], shas: set[str]) -> dict[str, int]:
    """SHA-256 -> seq of an upload.completed event naming it (a file acknowledged to a witness).

    Read in short transactions: on SQLite each one holds the write lock.
    """
    found: dict[str, int] = {}
    after = -1
    while shas - found.keys():
        with transaction(sessions) as db:
            rows = db.execute(
                select(LogEntry.seq, LogEntry.event)
                .where(LogEntry.type == str(EventType.UPLOAD_COMPLETED), LogEntry.seq > after)
                .order_by(LogEntry.seq)
                .limit(LOG_BATCH)
            ).all()
        if not rows:
            break
        for seq, event in rows:
            try:
                sha = json.loads(event)["details"]["sha256"]
            except (ValueError, KeyError, TypeError):
                continue
            if sha in shas:
                found.setdefault(sha, int(seq))
        after = int(rows[-1][0])
    return found


# --- the run ------------------------------------------------------------------------------------


def _kind(key: str) -> str:
    if ORIGINAL.fullmatch(key):
        return "original"
    return "derivative" if key.startswith(DERIVED) else "object"


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

    def tick(phase: str, n: int) -> None:
        if progress is not None:
            progress(phase, n)

    # 1. The database, once. Rows created after this are caught by the checks in step 3.
    with transaction(sessions) as db:
        states = _key_states(db)
        derivatives = {
            key: source
            for key, source in db.execute(select(Derivative.key, Derivative.source_sha256))
        }
        purging = set(db.scalars(select(Evidence.sha256).where(Evidence.disposition == "purging")))
        unfinished = {
            upload_id: (offset, length)
            for upload_id, offset, length in db.execute(
                select(Upload.id, Upload.offset, Upload.length).where(
                    Upload.status == "active", Upload.offset > 0
                )
            )
        }

    # 2. Storage: partials first, so an upload finishing meanwhile shows its original below.
    partials = {}
    for n, p in enumerate(storage.list_partials(), 1):
        partials[p.upload_id] = p
        tick("partials", n)
    report.partials_checked = len(partials)
    objects = {}
    for n, o in enumerate(storage.list_objects(), 1):
        objects[o.key] = o
        tick("objects", n)
    report.objects_checked = len(objects)

    loose_objects = [
        k for k in objects if (states.get(k) in (None, "purged")) and k not in derivatives
    ]
    missing_keys = [k for k, s in states.items() if s == "live" and k not in objects]
    missing_derived = [
        k for k, source in derivatives.items() if k not in objects and source not in purging
    ]
    gone_partials = [u for u in unfinished if u not in partials]

    # 3. Every candidate against the database again: it may have changed while we listed.
    with transaction(sessions) as db:
        claims = _Claims.read(db, keys=loose_objects, upload_ids=[*partials, *gone_partials])
        still_live = _key_states(db, missing_keys)
        missing_items = [
            (evidence_id, key)
            for batch in _batches(k for k in missing_keys if still_live.get(k) == "live")
            for evidence_id, key in db.execute(
                select(Evidence.id, Evidence.storage_key)
                .where(Evidence.storage_key.in_(batch), Evidence.disposition.is_(None))
                .order_by(Evidence.received_at, Evidence.id)
            )
        ]
        purging_now = set(
            db.scalars(select(Evidence.sha256).where(Evidence.disposition == "purging"))
        )
        derived_rows = _derivative_keys(db, missing_derived)
        evidence_keys = {
            evidence_id: key
            for batch in _batches(
                e for status, e in claims.uploads.values() if status == "completed" and e
            )
            for evidence_id, key in db.execute(
                select(Evidence.id, Evidence.storage_key).where(Evidence.id.in_(batch))
            )
        }

    for evidence_id, key in missing_items:
        report.missing.append(
            Missing("evidence", evidence_id, key, "the original is not in storage")
        )
    for key in missing_derived:
        if key in derived_rows and derivatives[key] not in purging_now:
            report.missing.append(Missing("derivative", key, key, "the object is not in storage"))
    for upload_id in gone_partials:
        status = claims.uploads.get(upload_id)
        if status is None or status[0] != "active":
            continue  # finished or terminated while we listed
        offset, length = unfinished[upload_id]
        if offset == length and claims.finalising.get(upload_id) in objects:
            continue  # finished into its original; the next finalise run claims it
        report.missing.append(
            Missing(
                "upload",
                upload_id,
                f"partial/{upload_id}",
                f"unfinished upload at offset {offset} has no partial in storage",
            )
        )

    def orphan(kind: str, key: str, size: int, at: datetime, reason: str, **kw: Any) -> Orphan:
        age = now - at
        return Orphan(kind, key, size, at, age, age > expiry, reason, **kw)

    for key in loose_objects:
        reason = claims.object_reason(key)
        if reason is None:
            continue
        o = objects[key]
        item = orphan(_kind(key), key, o.size, o.last_modified, reason)
        if item.kind == "object":
            item.keep = "not a key this portal writes: left for a person to judge"
        elif item.kind == "original" and claims.unhashed:
            item.keep = (
                f"upload {claims.unhashed[0]} waits to be finalised without its hash state: "
                "its file may land here"
            )
        report.orphans.append(item)
    for upload_id, p in partials.items():
        reason = claims.partial_reason(upload_id)
        if reason is None:
            continue
        item = orphan(
            "partial", f"partial/{upload_id}", p.size, p.last_modified, reason, upload_id=upload_id
        )
        found = claims.uploads.get(upload_id)
        if not (upload_id.isascii() and upload_id.isalnum()):
            item.keep = "not a partial this portal writes: left for a person to judge"
        elif found is not None and found[0] == "completed":
            original = evidence_keys.get(found[1] or "")
            if original is None or original not in objects:
                item.keep = "its item's original is not in storage: this may be the only copy"
        report.orphans.append(item)

    # An original that the log says a witness was given a receipt for is evidence, row or not.
    unclaimed = {
        sha: o
        for o in report.orphans
        if o.reason == "no evidence row" and (sha := o.sha256) is not None
    }
    if unclaimed:
        for sha, seq in _received(sessions, set(unclaimed)).items():
            unclaimed[sha].keep = (
                f"the custody log records it as received (entry {seq}) but no row holds it: "
                "restore the database rather than remove the file"
            )

    report.orphans.sort(key=lambda o: (o.kind, o.key))
    if repair:
        done = 0
        for item in report.orphans:
            if item.removable:
                _remove(sessions, storage, item, actor=actor, now=now)
                if item.outcome == "removed":
                    report.repaired.append(item)
                done += 1
                tick("repair", done)
    return report


def _still_orphan(db: Session, item: Orphan) -> bool:
    if item.upload_id is not None:
        claims = _Claims.read(db, keys=[], upload_ids=[item.upload_id])
        return claims.partial_reason(item.upload_id) is not None
    claims = _Claims.read(db, keys=[item.key], upload_ids=[])
    if item.kind == "original" and claims.unhashed:
        return False  # an upload that may land here lost its hash state meanwhile
    return claims.object_reason(item.key) is not None


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
    with transaction(sessions) as db:
        if not _still_orphan(db, item):
            item.keep = "claimed by a row since it was listed"
            return
        entry = custody.append(
            db,
            type=EventType.STORAGE_ORPHAN_REMOVED,
            actor=actor,
            subject="storage",
            details=details,
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


__all__ = ["Missing", "Orphan", "Report", "reconcile"]
