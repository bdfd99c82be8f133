"""The portal's Prometheus instruments, one place for every layer to count in.

A foundation module (it imports nothing of the portal) so that the custody log, storage,
services and routes can all count without importing each other. Labels are fixed, small sets
(an event type, a reason code, a route's name): never an address, a name, a file name or an id,
which would put a witness into the operator's monitoring.

Under several worker processes prometheus-client's multiprocess mode is used when
PROMETHEUS_MULTIPROC_DIR is set (the library reads it at import), and a scrape sums every
process's files; docs/operations.md says how to run it.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import REGISTRY, Collector

# Phones on poor links: PATCHes take from milliseconds to minutes.
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

UPLOADS_STARTED = Counter("portal_uploads_started", "tus uploads created")
UPLOADS_FINISHED = Counter("portal_uploads_finished", "Uploads that became evidence")
UPLOADS_FAILED = Counter("portal_uploads_failed", "Uploads refused or ended unfinished", ["reason"])
BYTES_RECEIVED = Counter("portal_bytes_received", "Evidence bytes acknowledged by PATCH")
PATCH_SECONDS = Histogram(
    "portal_patch_seconds", "Time to receive and acknowledge one PATCH", buckets=_LATENCY
)
FINALISE_SECONDS = Histogram(
    "portal_finalise_seconds", "Time to finalise a complete upload", buckets=_LATENCY
)
CUSTODY_APPENDS = Counter("portal_custody_appends", "Custody log events appended", ["type"])
RETENTION_RUNS = Counter("portal_retention_runs", "Retention sweeps run")
PURGES = Counter("portal_purges", "Originals destroyed by retention")
LOGIN_FAILURES = Counter("portal_login_failures", "Refused staff logins", ["reason"])
RATE_LIMITED = Counter("portal_rate_limited", "Requests refused by a rate limit", ["limit"])


def exposition(extra: Collector | None = None) -> bytes:
    """The text format of every instrument (summed across processes in multiprocess mode),
    plus `extra`: gauges read at scrape time from the database, the same for every process."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    out = generate_latest(registry)
    if extra is not None:
        scrape = CollectorRegistry()
        scrape.register(extra)
        out += generate_latest(scrape)
    return out
