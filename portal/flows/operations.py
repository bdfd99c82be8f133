"""What an operator's load balancer and monitoring ask: is this instance ready, and how is
the portal doing. Every answer names parts and counts, never a witness, address or id."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from portal.clock import as_utc
from portal.custody import note
from portal.custody import service as custody
from portal.ids import new_id
from portal.runtime import Runtime
from portal.uploads.models import Upload, UploadState


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: float
    detail: str  # what failed, in words an operator can act on; "" when fine


def _timed(name: str, probe: Callable[[], None]) -> Check:
    start = time.perf_counter()
    try:
        probe()
        detail, ok = "", True
    except Exception as exc:  # a readiness probe reports every failure, never raises
        detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
    return Check(name, ok, round((time.perf_counter() - start) * 1000, 1), detail)


def _database(rt: Runtime) -> None:
    with rt.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _storage(rt: Runtime) -> None:
    """Write, make durable and delete one byte as an unfinished upload would: the same path
    a witness's bytes take, on either backend, and never a locked object."""
    probe = new_id()  # shaped like an upload id, which backends insist on
    rt.storage.create_partial(probe)
    writer = rt.storage.open_partial(probe, 0, None)
    try:
        writer.write(b"\0")
        state = writer.commit()
    finally:
        writer.close()
    rt.storage.delete_partial(probe, state)


def _signing_key(rt: Runtime) -> None:
    note.open_note(note.sign("readyz\n", rt.log_signer), rt.log_verifier)


def _log(rt: Runtime) -> None:
    """The log's guard: a database behind or beside the last signed checkpoint refuses every
    append, so this instance could take no upload (custody/mirror.py)."""
    with rt.readers() as db:
        rt.log_mirror.check(db)


def _free_space(rt: Runtime) -> None:
    free, floor = rt.free_bytes(), rt.settings.min_free_space
    if free is not None and floor and free < floor:
        raise OSError(f"{free} bytes free, under the floor of {floor} (PORTAL_MIN_FREE_SPACE)")


def readiness(rt: Runtime) -> list[Check]:
    return [
        _timed("database", lambda: _database(rt)),
        _timed("storage", lambda: _storage(rt)),
        _timed("signing_key", lambda: _signing_key(rt)),
        _timed("log", lambda: _log(rt)),
        _timed("free_space", lambda: _free_space(rt)),
    ]


class PortalGauges(Collector):
    """Read at scrape time from the database, so every instance reports the same values and
    nothing depends on which process answered."""

    def __init__(self, rt: Runtime, clock: Callable[[], datetime]) -> None:
        self.rt, self.clock = rt, clock

    def collect(self) -> Iterator[Metric]:
        with self.rt.readers() as db:
            size = custody.tree_size(db)
            latest = custody.latest_checkpoint(db)
            unfinished = db.scalar(
                select(func.count()).select_from(Upload).where(Upload.status == UploadState.ACTIVE)
            )
        yield GaugeMetricFamily("portal_log_size", "Entries in the custody log", value=size)
        if latest is not None:
            age = (self.clock() - as_utc(latest.signed_at)).total_seconds()
            yield GaugeMetricFamily(
                "portal_checkpoint_age_seconds", "Seconds since the last signed checkpoint", age
            )
            yield GaugeMetricFamily(
                "portal_log_unsigned_entries",
                "Entries logged since the last signed checkpoint",
                value=size - latest.size,
            )
        yield GaugeMetricFamily(
            "portal_uploads_unfinished", "tus uploads open now", value=unfinished or 0
        )
