"""After a file is received: its retention date, its metadata and poster, a fresh checkpoint.

A crash here leaves a received, logged file that the next start finishes (`finish_receipts`;
no date meanwhile means kept: the safe side).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from portal.db import transaction
from portal.evidence.models import Evidence
from portal.media.service import derive
from portal.retention import service as retention
from portal.runtime import Runtime

log = logging.getLogger("portal")


def after_receipt(rt: Runtime, evidence_id: str) -> None:
    """Give the new file its retention date, derive metadata and a poster, then sign a
    checkpoint covering it all."""
    with transaction(rt.sessions) as db:
        item = db.get(Evidence, evidence_id)
        if item is not None:
            retention.recompute(db, rt.retention, item=item, reason="received", now=rt.clock())
    try:
        derive(sessions=rt.sessions, storage=rt.storage, evidence_id=evidence_id, now=rt.clock())
    except Exception:
        # The file is received and logged; a failed derivation must not undo that.
        log.exception("deriving metadata for %s failed", evidence_id)
    rt.sign_checkpoint()
    rt.timestamp_soon()


def finish_receipts(rt: Runtime) -> int:
    """Run the follow-up a crash cut short: items received but never derived (derive
    records even a failure, so these are exactly the interrupted ones). Its poster may
    already be stored, without a row; derive takes it over."""
    with rt.sessions() as db:
        ids = list(
            db.scalars(
                select(Evidence.id).where(
                    Evidence.media_info.is_(None), Evidence.disposition.is_(None)
                )
            )
        )
    for evidence_id in ids:
        try:
            after_receipt(rt, evidence_id)
        except Exception:
            log.exception("finishing the receipt of %s failed", evidence_id)
    return len(ids)
