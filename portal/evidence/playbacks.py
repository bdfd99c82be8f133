"""Playbacks: the copy a viewer plays (the review copy when one was made), and the range
requests of one viewing, grouped so the custody log holds one opening event when it starts
(`evidence.stream_opened` for an original, `evidence.proxy_viewed` for its review copy) and
one `evidence.streamed` (every range sent, folded) when it has been idle for
`PORTAL_PLAYBACK_IDLE`, not one event per request. An original and its review copy are
played in playbacks of their own (`copy_sha256`).

Staff and a share's recipient are both viewers here (a staff user's id or a share's id, and
the actor the log names), so both are grouped by the same code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
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
    copy_sha256: str | None,
    playback_id: str | None,
    idle: timedelta,
    now: datetime,
) -> Playback | None:
    """The viewer's open playback of these bytes: the one named, else the latest, if not idle."""
    playback = db.get(Playback, playback_id) if playback_id else None
    if playback is not None and (
        playback.user_id != viewer
        or playback.evidence_id != item.id
        or playback.copy_sha256 != copy_sha256
    ):
        playback = None
    if playback is None:
        playback = db.scalars(
            select(Playback)
            .where(
                Playback.user_id == viewer,
                Playback.evidence_id == item.id,
                Playback.copy_sha256.is_(None)
                if copy_sha256 is None
                else Playback.copy_sha256 == copy_sha256,
                Playback.closed_at.is_(None),
            )
            .order_by(Playback.last_at.desc())
        ).first()
    if playback is not None and (
        playback.closed_at is not None or as_utc(playback.last_at) < now - idle
    ):
        return None
    return playback


def _opened(item: Evidence, copy: Derivative | None, playback: Playback) -> dict[str, Any]:
    """What the opening event names: the bytes played and, for a copy, its original."""
    if copy is None:
        return {"playback": playback.id, "sha256": item.sha256}
    return {
        "playback": playback.id,
        "key": copy.key,
        "sha256": copy.sha256,
        "source_sha256": item.sha256,
    }


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
    copy: Derivative | None = None,
) -> str:
    """Attach a range request of the original (or of `copy`, its review copy) to its playback,
    opening and logging one when needed, in the caller's transaction: the caller commits it
    before sending a byte. Returns the playback's id (`X-Playback`)."""
    copy_sha256 = copy.sha256 if copy is not None else None
    playback = _current(
        db,
        viewer=viewer,
        item=item,
        copy_sha256=copy_sha256,
        playback_id=playback_id,
        idle=idle,
        now=now,
    )
    if playback is None:
        playback = Playback(
            id=new_id(),
            evidence_id=item.id,
            user_id=viewer,
            actor=str(actor),
            copy_sha256=copy_sha256,
            opened_at=now,
            last_at=now,
            ranges=[],
            bytes_sent=0,
        )
        db.add(playback)
        custody.append(
            db,
            type=EventType.EVIDENCE_STREAM_OPENED
            if copy is None
            else EventType.EVIDENCE_PROXY_VIEWED,
            actor=actor,
            subject=item.id,
            details=_opened(item, copy, playback),
            at=now,
        )
    playback.ranges = merge_ranges(playback.ranges, span)
    playback.bytes_sent += span[1] - span[0]
    playback.last_at = now
    return playback.id


def record_stream(
    db: Session,
    *,
    user: StaffUser,
    item: Evidence,
    span: tuple[int, int],
    playback_id: str | None,
    idle: timedelta,
    now: datetime,
    copy: Derivative | None = None,
) -> str:
    """A staff member's range request (see `attach`)."""
    return attach(
        db,
        viewer=user.id,
        actor=user.actor,
        item=item,
        span=span,
        playback_id=playback_id,
        idle=idle,
        now=now,
        copy=copy,
    )


def close_idle_playbacks(db: Session, *, now: datetime, idle: timedelta) -> int:
    """Fold each finished playback's ranges into its one `evidence.streamed` event, naming the
    bytes played (and, for a review copy, its original)."""
    done = 0
    for playback, source in db.execute(
        select(Playback, Evidence.sha256)
        .join(Evidence, Evidence.id == Playback.evidence_id)
        .where(Playback.closed_at.is_(None), Playback.last_at < now - idle)
        .with_for_update(of=Playback, skip_locked=True)
    ):
        playback.closed_at = now
        played = {"sha256": source}
        if playback.copy_sha256 is not None:
            played = {"sha256": playback.copy_sha256, "source_sha256": source}
        custody.append(
            db,
            type=EventType.EVIDENCE_STREAMED,
            actor=playback.actor,
            subject=playback.evidence_id,
            details={
                "playback": playback.id,
                "opened_at": custody.rfc3339(as_utc(playback.opened_at)),
                "last_request_at": custody.rfc3339(as_utc(playback.last_at)),
                "ranges": playback.ranges,
                "bytes": playback.bytes_sent,
                **played,
            },
            at=now,
        )
        done += 1
    return done
