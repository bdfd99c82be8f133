"""New arrivals through an evidence request, told to its author by webhook and email.

Each item received through a request queues one job per channel in the transaction that
receives it (portal.flows.requests), so a notification is as durable as the receipt; the job
queue (portal.flows.jobs) delivers it, retries it later each time and records a final failure.

Sent and failed notifications are recorded in their job rows (state, attempts, last error,
finished_at; shown with the item's jobs in the evidence API), not in the custody log: a
notification touches no evidence, and the permanent log is no place for the addresses of
staff's own systems or for an outage at a receiver.
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy.orm import Session

from portal.evidence.models import Evidence
from portal.jobs import service as jobs
from portal.jobs.models import JobKind
from portal.requests import notify
from portal.requests import service as requests
from portal.requests.models import EvidenceRequest
from portal.runtime import Runtime
from portal.submissions.models import Submission


def rules(rt: Runtime) -> notify.NotifyRules:
    s = rt.settings
    return notify.NotifyRules(
        webhook_prefixes=list(s.notify_webhook_allowed),
        webhook_secret=bool(s.notify_webhook_secret),
        email=bool(s.smtp_host),
    )


def queue(
    db: Session, *, req: EvidenceRequest, item: Evidence, policy: jobs.Policy, now: datetime
) -> list[str]:
    """In the receiving transaction: one job per channel the request's author asked for."""
    kinds = [JobKind.WEBHOOK] if req.notify_url else []
    kinds += [JobKind.EMAIL] if req.notify_email else []
    made = [jobs.enqueue(db, kind=k, evidence_id=item.id, policy=policy, now=now) for k in kinds]
    return [m for m in made if m]


def _arrival(rt: Runtime, evidence_id: str) -> tuple[EvidenceRequest, notify.Arrival]:
    with rt.sessions() as db:
        item = db.get(Evidence, evidence_id)
        sub = db.get(Submission, item.submission_id) if item else None
        if sub is None or sub.request_id is None:
            raise RuntimeError("the item came through no request")
        req = requests.get(db, request_id=sub.request_id)
        files = requests.stats(db, request_ids=[req.id])[req.id].files
        db.expunge(req)
    base = rt.settings.public_url or f"http://{rt.settings.host}:{rt.settings.port}"
    link = f"{base}/web/staff/queue?request_id={req.id}"
    return req, notify.Arrival(request_id=req.id, case_id=req.case_id, files=files, link=link)


def send(rt: Runtime, *, job_id: str, kind: JobKind, evidence_id: str) -> None:
    """Deliver one notification; raises when it did not go (the job is retried)."""
    s = rt.settings
    req, arrival = _arrival(rt, evidence_id)
    timeout = s.notify_timeout.total_seconds()
    if kind is JobKind.WEBHOOK:
        url = req.notify_url or ""
        # Checked again: the allow-list may have shrunk since the request was made.
        if not s.notify_webhook_secret or not notify.allowed(url, s.notify_webhook_allowed):
            raise RuntimeError("the webhook address is no longer allowed")
        notify.post_webhook(
            url,
            arrival=arrival,
            secret=s.notify_webhook_secret,
            msg_id=job_id,
            # The receiver checks this against its own clock: the wall clock, not rt.clock.
            timestamp=int(time.time()),
            timeout=timeout,
        )
        return
    if not s.smtp_host or not req.notify_email:
        raise RuntimeError("email is not configured")
    smtp = notify.Smtp(
        host=s.smtp_host,
        port=s.smtp_port,
        sender=s.smtp_from,
        tls=s.smtp_tls,
        username=s.smtp_username,
        password=s.smtp_password,
        timeout=timeout,
    )
    notify.send_email(smtp, arrival=arrival, to=req.notify_email)
