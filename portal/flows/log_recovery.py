"""After a restore from an older backup: the log back from storage, the rows of received
items rebuilt as far as its events allow, and what it says was received that the database
still does not hold."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from portal.custody.events import EventType
from portal.custody.recover import Recovery, recover
from portal.db import transaction
from portal.evidence.models import Evidence
from portal.flows.recovered_rows import Rebuilt, rebuild_rows
from portal.runtime import Runtime

RECEIVED = {str(EventType.UPLOAD_COMPLETED), str(EventType.EVIDENCE_RECEIVED)}


@dataclass(frozen=True)
class Lost:
    """An item the log records as received whose database row the restore lost."""

    seq: int
    type: str
    subject: str
    sha256: str
    size: int


def recover_log(rt: Runtime) -> tuple[Recovery, list[Rebuilt], list[Lost]]:
    """Recover the log, rebuild the rows its events allow, then list received items still
    without a row. Their originals stay: the reconciler keeps any original the log records
    as received (flows/reconcile)."""
    with transaction(rt.sessions) as db:
        found = recover(db, rt.log_mirror, now=rt.clock())
        rt.log_mirror.check(db)
        rebuilt = rebuild_rows(db, restored=found.restored, storage=rt.storage, now=rt.clock())
        received = [e for e in found.restored if e.type in RECEIVED]
        shas = {json.loads(e.event)["details"]["sha256"] for e in received}
        held = set(db.scalars(select(Evidence.sha256).where(Evidence.sha256.in_(shas))))
    lost = []
    for e in received:
        details = json.loads(e.event)["details"]
        if details["sha256"] not in held:
            lost.append(Lost(e.seq, e.type, e.subject, details["sha256"], int(details["size"])))
    return found, rebuilt, lost
