"""Failures in a row and the wait they earn: one copy for every secret someone may guess
(a staff password or second factor, a share's one-time code).

The count lives in the guessed row itself, in the database, so parallel guesses on any
instance all count; `until` holds the end of the wait, never a lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal.clock import as_utc


class Limits(Protocol):
    @property
    def max_failures(self) -> int: ...

    @property
    def lockout(self) -> timedelta: ...


def delay(failures: int, limits: Limits) -> timedelta:
    """The wait before the next try after `failures` in a row: none up to `max_failures - 1`,
    then one second doubling with each failure, never longer than `limits.lockout`."""
    over = failures - limits.max_failures
    if over < 0:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(over, 30)), limits.lockout)


def waiting(until: datetime | None, now: datetime) -> bool:
    """Whether a try at `now` falls inside the wait."""
    return until is not None and as_utc(until) > now


def count_failure(
    db: Session,
    row: Any,
    *,
    counter: InstrumentedAttribute[int],
    until: InstrumentedAttribute[datetime | None],
    limits: Limits,
    now: datetime,
) -> None:
    """Count one failure against `row` (a mapped object with an `id` key) and set its wait."""
    model = type(row)
    # One UPDATE ... SET n = n + 1 RETURNING n: parallel guesses each count (PostgreSQL locks
    # the row; SQLite has one writer), where reading n first could lose some.
    failures = db.execute(
        update(model)
        .where(model.id == row.id)
        .values({counter: counter + 1})
        .returning(counter)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    wait = delay(failures, limits)
    if wait:
        db.execute(
            update(model)
            .where(model.id == row.id)
            .values({until: now + wait})
            .execution_options(synchronize_session=False)
        )
    db.expire(row, [counter.key, until.key])
