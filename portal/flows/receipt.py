"""After a file is received: its retention date, a checkpoint, then its metadata and poster.

The retention date and the item's derivation job commit in the transaction that receives the
file (`on_received`, called by flows/finalise.py), so a finished upload costs one durable
commit; the checkpoint follows in the next signing round (portal.custody.batch), one for every
file finished meanwhile; the media work (a child process, portal.media) runs after the answer
(`derive_media`, from a background task) and, for what a stop or a crash left, at the next
start and in the periodic sweep (`finish_receipts`, `finish_media`). The derivation job
(portal.flows.jobs) runs after the answer too, and queues a playback proxy when browsers need
one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import transaction
from portal.evidence.models import Evidence
from portal.flows import jobs as job_flow
from portal.flows.jobs import media_limits
from portal.jobs import service as jobs
from portal.jobs.models import JobKind
from portal.media import service as media
from portal.retention import service as retention
from portal.runtime import Runtime

log = logging.getLogger("portal")

__all__ = [
    "after_receipt",
    "derive_media",
    "finish_media",
    "finish_receipts",
    "media_limits",
    "on_received",
]


def on_received(rt: Runtime, db: Session, *, item: Evidence, now: datetime) -> None:
    """In the transaction that receives `item`: its retention date and its derivation job,
    durable with the receipt itself (one commit per finished upload, not two). After the
    case link of a request, which the date depends on."""
    retention.recompute(db, rt.retention, item=item, reason="received", now=now)
    jobs.enqueue(db, kind=JobKind.DERIVE, evidence_id=item.id, policy=job_flow.policy(rt), now=now)


def after_receipt(rt: Runtime, evidence_id: str, *, derive: bool = True) -> None:
    """A checkpoint covering the new file (its date and job committed with it); with
    `derive`, derive its metadata and poster first and sign at once (callers that answer a
    witness pass False, have the checkpoint signed in the next round and call `derive_media`
    after answering)."""
    if derive:
        # Its job is left to the workers: a start must not wait for a transcode.
        _derive(rt, evidence_id, reclaim=True)
        rt.sign_checkpoint()
    else:
        # The witness is answered now; the checkpoint follows in the next signing round,
        # shared with every file finished meanwhile (the receipt route waits for it).
        rt.checkpoints.request()
    rt.timestamp_soon()


def derive_media(rt: Runtime, evidence_id: str) -> bool:
    """Metadata and poster for one received item, then a checkpoint: the job a background
    task (or a queue's worker) runs. Never raises: the item stays received either way.
    False when there was nothing to do (done already, or another run holds it)."""
    done = _derive(rt, evidence_id, reclaim=False)
    if done:
        rt.checkpoints.request()
    # Then its job, which queues a playback proxy when the browser needs one.
    job_flow.start_jobs(rt, evidence_id)
    return done


def _derive(rt: Runtime, evidence_id: str, *, reclaim: bool) -> bool:
    try:
        return media.derive(
            sessions=rt.sessions,
            storage=rt.storage,
            evidence_id=evidence_id,
            limits=media_limits(rt),
            max_attempts=rt.settings.media_max_attempts,
            cipher=rt.contact_cipher,
            now=rt.clock(),
            reclaim=reclaim,
        )
    except Exception:
        # The file is received and logged; a failed derivation must not undo that. Its
        # attempt is counted, so it is tried again, a bounded number of times.
        log.exception("deriving metadata for %s failed", evidence_id)
        return False


def _underived(rt: Runtime, *, older_than: timedelta | None = None) -> list[str]:
    query = select(Evidence.id).where(Evidence.media_info.is_(None), Evidence.disposition.is_(None))
    if older_than is not None:
        query = query.where(Evidence.received_at < rt.clock() - older_than)
    with rt.sessions() as db:
        return list(db.scalars(query))


def finish_receipts(rt: Runtime) -> int:
    """At start: run the follow-up a stop or crash cut short, for items received but never
    derived (derive records even a failure, so these are exactly the interrupted ones). A
    run the stopped server had begun is taken over and counted; its poster may already be
    stored, without a row: derive takes it over."""
    ids = _underived(rt)
    for evidence_id in ids:
        try:
            _settle(rt, evidence_id)
            after_receipt(rt, evidence_id)
        except Exception:
            log.exception("finishing the receipt of %s failed", evidence_id)
    return len(ids)


def _settle(rt: Runtime, evidence_id: str) -> None:
    # Items an older version received commit their date and job in a later transaction; a
    # crash between the two left them without. Idempotent: nothing changes when both exist.
    with transaction(rt.sessions) as db:
        item = db.get(Evidence, evidence_id)
        if item is not None:
            on_received(rt, db, item=item, now=rt.clock())


def finish_media(rt: Runtime) -> int:
    """The periodic sweep's share: items whose background derivation never ran or failed.
    Items received moments ago are left to their own background task."""
    ids = _underived(rt, older_than=rt.settings.media_timeout + timedelta(seconds=60))
    return sum(derive_media(rt, evidence_id) for evidence_id in ids)
