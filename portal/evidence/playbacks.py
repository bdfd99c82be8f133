"""Playbacks: the copy a viewer plays (the review copy when one was made), and the range
requests of one viewing of an original, grouped so the custody log holds one
`evidence.stream_opened` when it starts and one `evidence.streamed` (every range sent,
folded) when it goes idle, not one event per request.

Staff and a share's recipient are both viewers here (a staff user's id or a share's id, and
the actor the log names), so both are grouped by the same code.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.evidence.models import Derivative, Evidence, Playback
from portal.ids import new_id


def review_copy_of(db: Session, item: Evidence) -> Derivative | None:
    """The item's playback proxy (portal.media.proxy), when one was made."""
    return db.scalar(
        select(Derivative).where(
            Derivative.source_sha256 == item.sha256, Derivative.kind == "proxy"
        )
    )


def merge_ranges(ranges: list[list[int]], new: tuple[int, int]) -> list[list[int]]:
    """Union of [start, end) byte ranges, sorted and coalesced."""
    out: list[list[int]] = []
    for start, end in sorted([*ranges, [new[0], new[1]]]):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _current(
    db: Session,
    *,
    viewer: str,
    item: Evidence,
    playback_id: str | None,
    idle: timedelta,
    now: datetime,
) -> Playback | None:
    """The viewer's open playback of this item: the one named, else the latest, if not idle."""
    playback = db.get(Playback, playback_id) if playback_id else None
    if playback is not None and (playback.user_id != viewer or playback.evidence_id != item.id):
        playback = None
    if playback is None:
        playback = db.scalars(
            select(Playback)
            .where(
                Playback.user_id == viewer,
                Playback.evidence_id == item.id,
                Playback.closed_at.is_(None),
            )
            .order_by(Playback.last_at.desc())
        ).first()
    if playback is not None and (
        playback.closed_at is not None or as_utc(playback.last_at) < now - idle
    ):
        return None
    return playback


def attach(
    db: Session,
    *,
    viewer: str,
    actor: Actor | str,
    item: Evidence,
    span: tuple[int, int],
    playback_id: str | None,
    idle: timedelta,
    now: datetime,
) -> str:
    """Attach a range request to its playback, opening (and logging) one when needed."""
    playback = _current(db, viewer=viewer, item=item, playback_id=playback_id, idle=idle, now=now)
    if playback is None:
        playback = Playback(
            id=new_id(),
            evidence_id=item.id,
            user_id=viewer,
            actor=str(actor),
            opened_at=now,
            last_at=now,
            ranges=[],
            bytes_sent=0,
        )
        db.add(playback)
        custody.append(
            db,
            type=EventType.EVIDENCE_STREAM_OPENED,
            actor=actor,
            subject=item.id,
            details={"playback": playback.id, "sha256": item.sha256},
            at=now,
        )
    playback.ranges = merge_ranges(playback.ranges, span)
    playback.bytes_sent += span[1] - span[0]
    playback.last_at = now
    return playback.id
