"""Derivation jobs: queued with the receipt, run by whichever worker claims them.

A job's row (portal.jobs) is its truth on every backend. How it reaches a worker:
- PostgreSQL: procrastinate (portal.jobs.queue) tells a worker on any machine at once;
  `portal worker` also re-delivers what a killed worker left once its lease runs out.
- SQLite (the embedded default): workers poll the table (`work`). procrastinate has
  no SQLite connector for production, and its in-memory one loses every job with the
  process; the table is in the same database as the evidence, so a job is exactly as durable
  as the receipt that queued it, and a killed worker's job is taken over after its lease.
In both, media code runs in the limited child process (portal.media.isolation).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import replace

from portal.db import transaction
from portal.evidence.models import Evidence
from portal.flows import notifications, redaction
from portal.jobs import queue
from portal.jobs import service as jobs
from portal.jobs.models import Job, JobKind, JobState
from portal.media import proxy
from portal.media import service as media
from portal.media.isolation import Limits
from portal.runtime import Runtime

log = logging.getLogger("portal")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def policy(rt: Runtime) -> jobs.Policy:
    s = rt.settings
    return jobs.Policy(max_attempts=s.job_max_attempts, lease=s.job_lease, backoff=s.job_backoff)


def media_limits(rt: Runtime) -> Limits:
    s = rt.settings
    return Limits(
        memory_bytes=s.media_memory_limit,
        cpu_seconds=s.media_cpu_limit,
        output_bytes=s.media_output_limit,
        timeout_seconds=s.media_timeout.total_seconds(),
        max_pixels=s.media_max_pixels,
        max_streams=s.media_max_streams,
        max_duration=s.media_max_duration.total_seconds(),
    )


def proxy_limits(rt: Runtime) -> Limits:
    s = rt.settings
    return replace(
        media_limits(rt),
        cpu_seconds=s.proxy_cpu_limit,
        output_bytes=s.proxy_output_limit,
        timeout_seconds=s.proxy_timeout.total_seconds(),
    )


def deliver(rt: Runtime, job_id: str) -> None:
    """Tell PostgreSQL's workers of a queued job (after its commit); SQLite's poll the table."""
    if queue.is_postgres(rt.settings.resolved_database_url):
        with transaction(rt.sessions) as db:
            job = db.get(Job, job_id)
            at = job.run_after if job is not None else rt.clock()
        app = queue.sync_app(rt.settings.resolved_database_url)
        with app.open():
            queue.defer(app, job_id, at=at)


def run_job(rt: Runtime, job_id: str, *, worker: str | None = None) -> bool:
    """Claim and run one job; False when another worker holds it or it is over."""
    worker = worker or worker_name()
    pol = policy(rt)
    claimed = jobs.claim(rt.sessions, job_id, worker=worker, policy=pol, now=rt.clock())
    if claimed is None:
        return False
    if claimed.attempts > claimed.max_attempts:
        # Every begun run died with its worker (a file that kills the transcoder's host).
        _final(rt, claimed, f"no run finished in {claimed.max_attempts} attempts")
        return True
    try:
        followers = _run(rt, claimed, worker)
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, claimed.kind)
        _failed(rt, claimed, worker, f"{type(exc).__name__}: {exc}")
        return True
    for follower in followers:
        deliver(rt, follower)  # should this worker die, another takes it
        run_job(rt, follower, worker=worker)
    return True


def start_jobs(rt: Runtime, evidence_id: str) -> None:
    """After a receipt: run the item's queued jobs here, or hand them to the workers."""
    with rt.sessions() as db:
        queued = [j.id for j in jobs.for_evidence(db, evidence_id) if j.state == JobState.QUEUED]
    for job_id in queued:
        try:
            if rt.settings.jobs_in_app:
                run_job(rt, job_id)
            else:
                deliver(rt, job_id)
        except Exception:  # the job stays queued: a worker or the sweep takes it
            log.exception("starting job %s failed", job_id)


def _run(rt: Runtime, claimed: jobs.Claimed, worker: str) -> list[str]:
    if claimed.kind in (JobKind.WEBHOOK, JobKind.EMAIL):
        notifications.send(
            rt, job_id=claimed.id, kind=claimed.kind, evidence_id=claimed.evidence_id
        )
        with transaction(rt.sessions) as db:
            jobs.finish(db, claimed.id, worker=worker, now=rt.clock())
        return []
    if claimed.kind is JobKind.DERIVE:
        # Nothing to do (False) when the receipt's own run already derived it.
        media.derive(
            sessions=rt.sessions,
            storage=rt.storage,
            evidence_id=claimed.evidence_id,
            limits=media_limits(rt),
            max_attempts=rt.settings.media_max_attempts,
            cipher=rt.contact_cipher,
            now=rt.clock(),
            reclaim=claimed.attempts > 1,
        )
        with transaction(rt.sessions) as db:
            item = db.get(Evidence, claimed.evidence_id)
            if item is not None and item.disposition is None and item.media_info is None:
                # The receipt's own run holds the item: it starts this job when it is done.
                jobs.postpone(db, claimed.id, worker=worker)
                return []
            jobs.finish(db, claimed.id, worker=worker, now=rt.clock())
            if item is None or item.disposition is not None:
                return []
            if not proxy.needs_proxy(item.media_info):
                return []
            made = jobs.enqueue(
                db, kind=JobKind.PROXY, evidence_id=item.id, policy=policy(rt), now=rt.clock()
            )
        return [made] if made else []
    if claimed.kind is JobKind.REDACT:
        tick = _ticker(rt, claimed, worker)
        redaction.render(rt, claimed, worker, limits=proxy_limits(rt), tick=tick)
        return []
    _make_proxy(rt, claimed, worker)
    return []


def _ticker(rt: Runtime, claimed: jobs.Claimed, worker: str) -> Callable[[int], bool]:
    """Progress reports that renew the job's lease (False: the lease was lost)."""

    def tick(progress: int) -> bool:
        return jobs.renew(
            rt.sessions,
            claimed.id,
            worker=worker,
            policy=policy(rt),
            progress=progress,
            now=rt.clock(),
        )

    return tick


def _make_proxy(rt: Runtime, claimed: jobs.Claimed, worker: str) -> None:
    with rt.sessions() as db:
        item = db.get(Evidence, claimed.evidence_id)
        assert item is not None
        key, sha256, gone = item.storage_key, item.sha256, item.disposition is not None
    if gone:  # destroyed meanwhile: nothing to copy
        with transaction(rt.sessions) as db:
            jobs.finish(db, claimed.id, worker=worker, now=rt.clock())
        return

    made = proxy.make(
        rt.storage, key=key, limits=proxy_limits(rt), tick=_ticker(rt, claimed, worker)
    )
    if made.data is None:
        raise RuntimeError(made.failure or "no proxy")
    stored_key, data = proxy.store(rt.storage, sha256=sha256, data=made.data)
    with transaction(rt.sessions) as db:
        item = db.get(Evidence, claimed.evidence_id)
        assert item is not None
        if jobs.finish(db, claimed.id, worker=worker, now=rt.clock()):
            proxy.record(
                db,
                item=item,
                key=stored_key,
                data=data,
                made_with=made.details or {},
                now=rt.clock(),
            )
    rt.sign_checkpoint()


def _failed(rt: Runtime, claimed: jobs.Claimed, worker: str, error: str) -> None:
    with transaction(rt.sessions) as db:
        state = jobs.fail(
            db, claimed.id, worker=worker, error=error, policy=policy(rt), now=rt.clock()
        )
        item = db.get(Evidence, claimed.evidence_id)
        if state is JobState.FAILED and item is not None and claimed.kind is JobKind.PROXY:
            proxy.record_failure(db, item=item, reason=error, now=rt.clock())
        if state is JobState.FAILED and claimed.kind is JobKind.REDACT:
            redaction.failed(db, claimed, reason=error, rt=rt)
    if state is JobState.QUEUED:
        deliver(rt, claimed.id)


def _final(rt: Runtime, claimed: jobs.Claimed, error: str) -> None:
    with transaction(rt.sessions) as db:
        jobs.give_up(db, claimed.id, error=error, now=rt.clock())
        item = db.get(Evidence, claimed.evidence_id)
        if item is not None and claimed.kind is JobKind.PROXY:
            proxy.record_failure(db, item=item, reason=error, now=rt.clock())
        if claimed.kind is JobKind.REDACT:
            redaction.failed(db, claimed, reason=error, rt=rt)


def run_due(rt: Runtime, *, worker: str | None = None, deliver_only: bool = False) -> int:
    """One pass over the due jobs: run them here, or (a procrastinate worker's sweep) hand
    them to the queue again, for jobs whose delivery was lost with a killed worker."""
    done = 0
    for job_id in jobs.due(rt.sessions, now=rt.clock()):
        if deliver_only:
            deliver(rt, job_id)
            done += 1
        else:
            done += run_job(rt, job_id, worker=worker)
    return done


def work(rt: Runtime, stop: threading.Event, *, deliver_only: bool = False) -> None:
    """Poll the job table until `stop` is set (the embedded default's worker)."""
    worker = worker_name()
    while not stop.is_set():
        try:
            run_due(rt, worker=worker, deliver_only=deliver_only)
        except Exception:
            log.exception("job worker pass failed")
        stop.wait(rt.settings.job_poll_interval.total_seconds())


def start_worker_thread(rt: Runtime, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=work, args=(rt, stop), name="portal-jobs", daemon=True)
    thread.start()
    return thread
