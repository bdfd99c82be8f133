"""What staff see of an item's derivatives: its playback proxy (served and logged) and the
jobs that make them (state, progress, why one failed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import NotFound
from portal.evidence import ranges
from portal.evidence.models import Derivative
from portal.evidence.playbacks import review_copy_of
from portal.evidence.service import get_live
from portal.jobs.models import Job


def jobs_of(db: Session, *, evidence_id: str) -> list[dict[str, Any]]:
    """The item's derivation jobs as investigators see them: state, progress, why it failed."""
    rows = db.scalars(select(Job).where(Job.evidence_id == evidence_id).order_by(Job.created_at))
    return [
        {
            "kind": j.kind,
            "state": j.state,
            "progress": j.progress,
            "attempts": j.attempts,
            "max_attempts": j.max_attempts,
            "last_error": j.last_error,
            "finished_at": j.finished_at,
        }
        for j in rows
    ]


def review_copy(
    db: Session,
    *,
    user: StaffUser,
    evidence_id: str,
    range_header: str | None,
    now: datetime,
) -> tuple[Derivative, ranges.Span]:
    """The playback proxy and the bytes of it to serve, logged (which copy, made from which
    original, which bytes). A range outside the copy is refused before anything is logged."""
    item = get_live(db, evidence_id=evidence_id)
    copy = review_copy_of(db, item)
    if copy is None:
        raise NotFound("this item has no review copy")
    span = ranges.span(range_header, copy.size)
    custody.append(
        db,
        type=EventType.EVIDENCE_PROXY_VIEWED,
        actor=user.actor,
        subject=item.id,
        details={
            "key": copy.key,
            "sha256": copy.sha256,
            "source_sha256": item.sha256,
            "range": [span.start, span.end],
        },
        at=now,
    )
    return copy, span
