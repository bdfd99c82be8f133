"""Playbacks: the many Range requests one viewing makes, grouped into one logged playback.

A player asks for a range at a time (each seek, each buffer refill), so logging every request
would bury the log. Instead a playback is opened, and logged, before its first byte is sent;
later requests of the same person for the same bytes join it; once it has been idle for
`PORTAL_PLAYBACK_IDLE` its merged ranges are folded into one `evidence.streamed` event. The
original and its review copy (the playback proxy) are played through this same path, each in
playbacks of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.evidence.models import Derivative, Evidence, Playback
from portal.ids import new_id


def merge_ranges(ranges: list[list[int]], new: tuple[int, int]) -> list[list[int]]:
    """Union of [start, end) byte ranges, sorted and coalesced."""
    out: list[list[int]] = []
    for start, end in sorted([*ranges, [new[0], new[1]]]):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _open_one(
    db: Session,
    *,
    user: StaffUser,
    item: Evidence,
    copy: Derivative | None,
    playback_id: str | None,
    idle: timedelta,
    now: datetime,
) -> Playback | None:
    """The caller's playback of these bytes that is still going, if any: the one named by
    `playback_id` when it is theirs, else their latest open one."""
    copy_sha256 = copy.sha256 if copy is not None else None
    playback = db.get(Playback, playback_id) if playback_id else None
    if playback is not None and (
        playback.user_id != user.id
        or playback.evidence_id != item.id
        or playback.copy_sha256 != copy_sha256
    ):
        playback = None
    if playback is None:
        playback = db.scalars(
            select(Playback)
            .where(
                Playback.user_id == user.id,
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
    """Attach a range request of the original (or of `copy`, its review copy) to its playback,
    opening and logging one when needed, in the caller's transaction: the caller commits it
    before sending a byte. Returns the playback's id (`X-Playback`)."""
    playback = _open_one(
        db, user=user, item=item, copy=copy, playback_id=playback_id, idle=idle, now=now
    )
    if playback is None:
        playback = Playback(
            id=new_id(),
            evidence_id=item.id,
            user_id=user.id,
            actor=str(user.actor),
            copy_sha256=copy.sha256 if copy is not None else None,
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
            actor=user.actor,
            subject=item.id,
            details=_opened(item, copy, playback),
            at=now,
        )
    playback.ranges = merge_ranges(playback.ranges, span)
    playback.bytes_sent += span[1] - span[0]
    playback.last_at = now
    return playback.id


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
