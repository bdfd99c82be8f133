"""The logged look at what identifies a witness beyond contact: the incident place and
description they wrote, and the place and device their file's metadata names.

Both are sealed at rest (portal.sealed); opening them appends `witness.incident_viewed` in the
transaction that reads them, as opening contact details does. Lists and the queue never open
them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import NotFound
from portal.evidence.models import Evidence
from portal.keys import ContactCipher
from portal.sealed import unseal
from portal.submissions.models import Submission


def has_witness_data(sub: Submission, item: Evidence) -> bool:
    return sub.incident_encrypted is not None or item.device_sealed is not None


def opened(cipher: ContactCipher, sub: Submission, item: Evidence) -> dict[str, Any]:
    """{"incident": {place, description}, "device": {location, make, model, raw_tags}}, the
    parts the witness or the file left empty as {} (no event: the caller logs)."""
    return {
        "incident": unseal(cipher, sub.incident_encrypted),
        "device": unseal(cipher, item.device_sealed),
    }


def view(
    db: Session, *, user: StaffUser, evidence_id: str, cipher: ContactCipher, now: datetime
) -> dict[str, Any]:
    item = db.get(Evidence, evidence_id)
    if item is None:
        raise NotFound("no such evidence item")
    sub = db.get(Submission, item.submission_id)
    assert sub is not None
    if not has_witness_data(sub, item):
        raise NotFound("neither the witness nor the file gave a place, description or device")
    custody.append(
        db,
        type=EventType.WITNESS_INCIDENT_VIEWED,
        actor=user.actor,
        subject=item.id,
        details={"submission": sub.id},
        at=now,
    )
    return opened(cipher, sub, item)
