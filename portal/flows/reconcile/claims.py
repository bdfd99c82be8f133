"""What the database claims about storage, for a reconciliation: which keys items need, which
uploads are in flight, and which files the custody log records as received."""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

import rehashes
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portal.custody.events import EventType
from portal.custody.models import LogEntry
from portal.db import transaction
from portal.evidence.models import Derivative, Disposition, Evidence
from portal.storage.layout import DERIVED, original_key, original_sha256
from portal.uploads.models import Upload, UploadState

BATCH = 500  # keys per IN (...) query
LOG_BATCH = 5000  # upload.completed events per read of the log


def batches(items: Iterable[str]) -> Iterator[list[str]]:
    it = iter(items)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def key_states(db: Session, keys: Iterable[str] | None = None) -> dict[str, str]:
    """Storage key -> live (an item needs it), purging, or purged (every item destroyed)."""
    rank: dict[str | None, int] = {None: 2, Disposition.PURGING: 1, Disposition.PURGED: 0}
    names: dict[int, str] = {2: "live", 1: Disposition.PURGING, 0: Disposition.PURGED}
    best: dict[str, int] = {}
    query = select(Evidence.storage_key, Evidence.disposition)
    selects = (
        [query]
        if keys is None
        else [query.where(Evidence.storage_key.in_(b)) for b in batches(keys)]
    )
    for q in selects:
        for key, disposition in db.execute(q):
            r = rank.get(disposition, 2)
            best[key] = max(best.get(key, r), r)
    return {k: names[r] for k, r in best.items()}


def finalising(db: Session) -> dict[str, str | None]:
    """Uploads waiting to be finalised -> the original they will land at (None: their hash
    state was lost, so the key cannot be known without reading the bytes)."""
    return {
        upload_id: None
        if state is None
        else original_key(str(rehashes.PySha256.deserialize(state).finalize()))
        for upload_id, state in db.execute(
            select(Upload.id, Upload.hash_state).where(
                Upload.status == UploadState.ACTIVE,
                Upload.length.is_not(None),
                Upload.offset == Upload.length,
            )
        )
    }


def upload_status(db: Session, ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for batch in batches(ids):
        for upload_id, status, evidence_id in db.execute(
            select(Upload.id, Upload.status, Upload.evidence_id).where(Upload.id.in_(batch))
        ):
            out[upload_id] = (status, evidence_id)
    return out


def derivative_keys(db: Session, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for batch in batches(keys):
        found.update(db.scalars(select(Derivative.key).where(Derivative.key.in_(batch))))
    return found


def purging(db: Session) -> set[str]:
    """SHA-256 of every item the retention purge is destroying right now."""
    return set(
        db.scalars(select(Evidence.sha256).where(Evidence.disposition == Disposition.PURGING))
    )


@dataclass
class Claims:
    """What the database says about a set of keys and upload ids, read in one transaction."""

    keys: dict[str, str]
    derivatives: set[str]
    finalising: dict[str, str | None]
    uploads: dict[str, tuple[str, str | None]]

    @classmethod
    def read(cls, db: Session, *, keys: list[str], upload_ids: list[str]) -> Claims:
        return cls(
            keys=key_states(db, keys),
            derivatives=derivative_keys(db, keys),
            finalising=finalising(db),
            uploads=upload_status(db, upload_ids),
        )

    @property
    def unhashed(self) -> list[str]:
        return [u for u, key in self.finalising.items() if key is None]

    def object_reason(self, key: str) -> str | None:
        """Why nothing claims the object at `key`, or None when something does."""
        state = self.keys.get(key)
        if state is not None and state != Disposition.PURGED:
            return None
        if key in self.derivatives or key in self.finalising.values():
            return None
        if state == Disposition.PURGED:
            return "every item it held was destroyed by retention"
        if original_sha256(key):
            return "no evidence row"
        return "no derivative row" if key.startswith(DERIVED) else "no database row"

    def partial_reason(self, upload_id: str) -> str | None:
        found = self.uploads.get(upload_id)
        if found is None:
            return "no upload row"
        status = found[0]
        return None if status == UploadState.ACTIVE else f"upload {status}"


@dataclass
class Suspects:
    """What the first read of the database and the listing of storage disagree on."""

    loose_objects: list[str]
    """Objects no live item or derivative row needed."""
    missing_keys: list[str]
    """Originals of live items that storage does not hold."""
    missing_derived: list[str]
    """Derivatives, of sources not being purged, that storage does not hold."""
    gone_partials: list[str]
    """Unfinished uploads with bytes written but no partial in storage."""


@dataclass
class Snapshot:
    """The database as read once, before storage is listed."""

    states: dict[str, str]
    derivatives: dict[str, str]
    """Derivative key -> the SHA-256 of its source."""
    purging: set[str]
    unfinished: dict[str, tuple[int, int | None]]
    """Active uploads with bytes written -> (offset, length)."""

    @classmethod
    def read(cls, db: Session) -> Snapshot:
        return cls(
            states=key_states(db),
            derivatives={
                key: source
                for key, source in db.execute(select(Derivative.key, Derivative.source_sha256))
            },
            purging=purging(db),
            unfinished={
                upload_id: (offset, length)
                for upload_id, offset, length in db.execute(
                    select(Upload.id, Upload.offset, Upload.length).where(
                        Upload.status == UploadState.ACTIVE, Upload.offset > 0
                    )
                )
            },
        )

    def suspects(self, *, objects: Collection[str], partials: Collection[str]) -> Suspects:
        """Compare with the keys and partials storage listed afterwards."""
        states, derivatives = self.states, self.derivatives
        return Suspects(
            loose_objects=[
                k
                for k in objects
                if (states.get(k) in (None, Disposition.PURGED)) and k not in derivatives
            ],
            missing_keys=[k for k, s in states.items() if s == "live" and k not in objects],
            missing_derived=[
                k
                for k, source in derivatives.items()
                if k not in objects and source not in self.purging
            ],
            gone_partials=[u for u in self.unfinished if u not in partials],
        )


@dataclass
class Recheck:
    """Every suspect against the database again, read in one transaction after the listing."""

    claims: Claims
    """About the loose objects, and the partials listed or gone."""
    missing_items: list[tuple[str, str]]
    """(evidence id, key) of items still live whose original storage does not hold."""
    purging: set[str]
    derived_rows: set[str]
    """Missing derivatives whose row still exists."""
    evidence_keys: dict[str, str]
    """Evidence id -> original, for the items that completed uploads became."""

    @classmethod
    def read(cls, db: Session, suspects: Suspects, *, partials: Iterable[str]) -> Recheck:
        claims = Claims.read(
            db, keys=suspects.loose_objects, upload_ids=[*partials, *suspects.gone_partials]
        )
        still_live = key_states(db, suspects.missing_keys)
        missing_items = [
            (evidence_id, key)
            for batch in batches(k for k in suspects.missing_keys if still_live.get(k) == "live")
            for evidence_id, key in db.execute(
                select(Evidence.id, Evidence.storage_key)
                .where(Evidence.storage_key.in_(batch), Evidence.disposition.is_(None))
                .order_by(Evidence.received_at, Evidence.id)
            )
        ]
        purging_now = purging(db)
        derived_rows = derivative_keys(db, suspects.missing_derived)
        evidence_keys = {
            evidence_id: key
            for batch in batches(
                e for status, e in claims.uploads.values() if status == "completed" and e
            )
            for evidence_id, key in db.execute(
                select(Evidence.id, Evidence.storage_key).where(Evidence.id.in_(batch))
            )
        }
        return cls(claims, missing_items, purging_now, derived_rows, evidence_keys)


def received(sessions: sessionmaker[Session], shas: set[str]) -> dict[str, int]:
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


__all__ = ["Claims", "Recheck", "Snapshot", "Suspects", "received"]
