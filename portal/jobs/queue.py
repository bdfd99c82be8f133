"""Delivery of jobs to workers on PostgreSQL: procrastinate.

procrastinate is a maintained PostgreSQL queue (LISTEN/NOTIFY, `FOR UPDATE SKIP LOCKED`,
scheduled jobs): a worker on any machine that reaches the database is told of a job the
moment it is due. It carries only "run job <id>"; the job's row (portal.jobs.models) still
decides who runs it, how often it is retried and when it has failed for good, so the rules
are one and the same on SQLite, where procrastinate has no production connector and workers
take due rows from the table themselves (portal.flows.jobs.work_sqlite).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.engine import make_url

TASK = "portal.run_job"


def is_postgres(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def conninfo(database_url: str) -> str:
    """The libpq form of the portal's SQLAlchemy URL (procrastinate speaks psycopg)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def sync_app(database_url: str) -> procrastinate.App:
    """For deferring from the web process's threads."""
    return procrastinate.App(
        connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(database_url))
    )


def worker_app(database_url: str) -> procrastinate.App:
    return procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url))
    )


def defer(app: procrastinate.App, job_id: str, *, at: datetime) -> None:
    """Ask a worker to run the job at `at`; one waiting delivery per job (its lock)."""
    task = app.configure_task(TASK, allow_unknown=True, queueing_lock=job_id, schedule_at=at)
    with contextlib.suppress(AlreadyEnqueued):
        task.defer(job_id=job_id)
