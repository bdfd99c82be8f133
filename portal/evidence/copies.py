"""What staff see of an item's derivatives: its playback proxy (served in logged playbacks) and the
jobs that make them (state, progress, why one failed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.errors import NotFound
from portal.evidence import playbacks, ranges
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
    playback_id: str | None,
    idle: timedelta,
    now: datetime,
) -> tuple[Derivative, ranges.Span, str]:
    """The playback proxy, the bytes of it to serve and the playback they join: a viewing is
    one logged playback (which copy, made from which original, which bytes), as the
    original's is. A range outside the copy is refused before anything is logged."""
    item = get_live(db, evidence_id=evidence_id)
    copy = review_copy_of(db, item)
    if copy is None:
        raise NotFound("this item has no review copy")
    span = ranges.span(range_header, copy.size)
    playback_of = playbacks.record_stream(
        db,
        user=user,
        item=item,
        span=(span.start, span.end),
        playback_id=playback_id,
        idle=idle,
        now=now,
        copy=copy,
    )
    return copy, span, playback_of
