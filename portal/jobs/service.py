"""The job rows' state machine: queued -> running (under a lease) -> done, or back to queued
after a failure (later each time), or failed for good once every attempt is used.

Claims are one conditional UPDATE, so across any number of processes and machines exactly
one worker holds a job; a worker killed mid-run stops renewing its lease, and the job is
claimed again once the lease has run out (that begun run counts as an attempt, so a file that
kills every worker still ends as failed, never retried forever).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from portal.db import transaction
from portal.ids import new_id
from portal.jobs.models import Job, JobKind, JobState


@dataclass(frozen=True)
class Policy:
    max_attempts: int
    lease: timedelta
    backoff: timedelta  # the wait after the first failure; doubled after each further one


@dataclass(frozen=True)
class Claimed:
    id: str
    kind: JobKind
    evidence_id: str
    attempts: int
    max_attempts: int
    target: str = ""


def enqueue(
    db: Session,
    *,
    kind: JobKind,
    evidence_id: str,
    policy: Policy,
    now: datetime,
    target: str = "",
) -> str | None:
    """Queue one job for an item (in the caller's transaction); None when it already has one."""
    existing = db.scalar(
        select(Job.id).where(Job.evidence_id == evidence_id, Job.kind == kind, Job.target == target)
    )
    if existing is not None:
        return None
    job = Job(
        id=new_id(),
        kind=kind,
        evidence_id=evidence_id,
        target=target,
        state=JobState.QUEUED,
        attempts=0,
        max_attempts=policy.max_attempts,
        run_after=now,
        progress=0,
        created_at=now,
    )
    db.add(job)
    return job.id


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(Job.state == JobState.QUEUED, Job.run_after <= now),
        and_(Job.state == JobState.RUNNING, Job.lease_until < now),
    )


def due(sessions: sessionmaker[Session], *, now: datetime, limit: int = 100) -> list[str]:
    """Jobs a worker may claim now: queued and due, or held by a worker whose lease ran out."""
    with sessions() as db:
        query = select(Job.id).where(_claimable(now)).order_by(Job.run_after).limit(limit)
        return list(db.scalars(query))


def claim(
    sessions: sessionmaker[Session], job_id: str, *, worker: str, policy: Policy, now: datetime
) -> Claimed | None:
    """Take the job for `worker` (an attempt begun); None when another holds it or it is over."""
    with transaction(sessions) as db:
        taken = db.execute(
            update(Job)
            .where(Job.id == job_id, _claimable(now))
            .values(
                state=JobState.RUNNING,
                attempts=Job.attempts + 1,
                worker=worker,
                lease_until=now + policy.lease,
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        job = db.get(Job, job_id)
        assert job is not None
        return Claimed(
            job.id, JobKind(job.kind), job.evidence_id, job.attempts, job.max_attempts, job.target
        )


def renew(
    sessions: sessionmaker[Session],
    job_id: str,
    *,
    worker: str,
    policy: Policy,
    progress: int | None,
    now: datetime,
) -> bool:
    """Extend the lease (and record progress, 0-100); False when the job is no longer ours."""
    values: dict[str, object] = {"lease_until": now + policy.lease}
    if progress is not None:
        values["progress"] = max(0, min(100, progress))
    with transaction(sessions) as db:
        done = db.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def finish(db: Session, job_id: str, *, worker: str, now: datetime) -> bool:
    """Mark the job done in the caller's transaction (beside the work's own record)."""
    done = db.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING)
        .values(state=JobState.DONE, progress=100, lease_until=None, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def fail(
    db: Session,
    job_id: str,
    *,
    worker: str,
    error: str,
    policy: Policy,
    now: datetime,
) -> JobState | None:
    """Record a failed run (in the caller's transaction): QUEUED again after a backoff, or
    FAILED for good when every attempt is used; None when the job is no longer ours."""
    job = db.get(Job, job_id, with_for_update=True)
    if job is None or job.worker != worker or job.state != JobState.RUNNING:
        return None
    job.last_error = error[:2000]
    job.lease_until = None
    if job.attempts >= job.max_attempts:
        job.state, job.finished_at = JobState.FAILED, now
        return JobState.FAILED
    job.state = JobState.QUEUED
    job.run_after = now + policy.backoff * 2 ** (job.attempts - 1)
    return JobState.QUEUED


def postpone(db: Session, job_id: str, *, worker: str) -> None:
    """Hand the job back unrun (another process is doing its work): no attempt counted."""
    db.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == worker, Job.state == JobState.RUNNING)
        .values(state=JobState.QUEUED, attempts=Job.attempts - 1, lease_until=None)
        .execution_options(synchronize_session=False)
    )


def give_up(db: Session, job_id: str, *, error: str, now: datetime) -> None:
    """Fail a job for good without running it (its attempts are used up by dead runs)."""
    job = db.get(Job, job_id)
    if job is not None:
        job.state, job.last_error, job.finished_at = JobState.FAILED, error, now
        job.lease_until = None


def for_evidence(db: Session, evidence_id: str) -> list[Job]:
    return list(db.scalars(select(Job).where(Job.evidence_id == evidence_id).order_by(Job.kind)))
