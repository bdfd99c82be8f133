"""Finalise: a complete upload becomes evidence, and the witness's receipt can be made.

Idempotent, safe to retry after a crash: the offset == length commit happened before this
runs, so a crash anywhere here leaves an upload that the next HEAD, PATCH or startup (or the
periodic sweep) finalises again. The upload's completion, the evidence row with both
custody events, its case link, its retention date and its jobs commit in one transaction: one
durable commit per finished upload, besides its share of a checkpoint signing.
"""

from __future__ import annotations

from portal import metrics
from portal.db import transaction
from portal.errors import UnsupportedMediaType
from portal.evidence import service as evidence
from portal.evidence.models import Evidence
from portal.flows import receipt, requests
from portal.flows.jobs import policy as job_policy
from portal.runtime import Runtime
from portal.uploads import completion
from portal.uploads import service as uploads


def finalise(rt: Runtime, *, upload_id: str, derive: bool = True) -> Evidence | None:
    """Turn a complete upload into evidence; None when there is nothing (more) to do.

    Without `derive` the media work is left to the caller (`receipt.derive_media`, after it
    has answered) or to the sweep."""
    with metrics.FINALISE_SECONDS.time():
        item = _finalise(rt, upload_id=upload_id, derive=derive)
    if item is not None:
        metrics.UPLOADS_FINISHED.inc()
    return item


def _finalise(rt: Runtime, *, upload_id: str, derive: bool) -> Evidence | None:
    done = completion.move_home(rt.upload_deps, upload_id=upload_id)
    if done is None:
        return None
    now = rt.clock()
    with transaction(rt.sessions) as db:
        marked = completion.mark_completed(db, done=done, now=now)
        if marked is None:
            return None
        upload, completed = marked
        item = evidence.record_received(
            db,
            submission_id=done.submission_id,
            upload_id=done.upload_id,
            # From the locked row, not `done`: a withdrawal meanwhile has erased the name.
            filename=upload.filename,
            name_salt=upload.name_salt,
            size=done.size,
            sha256=done.sha256,
            media_type=done.media_type,
            storage_key=done.storage_key,
            log_index=completed.seq,
            now=now,
        )
        upload.evidence_id = item.id
        requests.link_received(db, item=item, now=now, policy=job_policy(rt))
        receipt.on_received(rt, db, item=item, now=now)
    receipt.after_receipt(rt, item.id, derive=derive)
    return item


def finalise_pending(rt: Runtime) -> int:
    """Finish uploads whose last byte was committed but whose finalise never ran."""
    done = 0
    for upload_id in completion.waiting(rt.upload_deps):
        try:
            if finalise(rt, upload_id=upload_id) is not None:
                done += 1
        except UnsupportedMediaType:
            pass
    return done


def sweep_uploads(rt: Runtime) -> int:
    """Finish uploads whose finalise was cut short, and media work left undone; end the
    expired uploads."""
    finalise_pending(rt)
    receipt.finish_media(rt)
    return uploads.expire_stale(rt.upload_deps)
