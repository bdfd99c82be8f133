"""Evidence requests across domains: a submission opened through a request, and each file it
brings linked to the request's case.

The answer and the submission commit together (a one-time link is spent only by a submission
that exists); the case link commits with the file's `evidence.received`, so a file that
arrived through a request is never left outside its case, whatever crashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal.cases import service as cases
from portal.evidence.models import Evidence
from portal.flows import notifications
from portal.jobs import service as jobs
from portal.keys import ContactCipher
from portal.requests import service as requests
from portal.runtime import Runtime
from portal.submissions import service as submissions
from portal.submissions.models import Submission
from portal.submissions.schemas import SubmissionCreate


def open_submission(
    rt: Runtime,
    db: Session,
    *,
    payload: SubmissionCreate,
    token: str,
    cipher: ContactCipher,
    now: datetime,
) -> Submission:
    """A submission, bound to the request whose code it names (404 unknown, 410 ended)."""
    if not payload.request_code:
        return submissions.create(db, payload=payload, token=token, cipher=cipher, now=now)
    req = requests.by_code(db, code=payload.request_code)
    requests.ensure_answerable(req, now=now)
    # Counted by the request, in this transaction: a refused submission changes nothing.
    rt.count_request("request_answers", f"request:{req.id}", db=db)
    sub = submissions.create(
        db, payload=payload, token=token, cipher=cipher, now=now, request_id=req.id
    )
    requests.answer(db, req=req, submission_id=sub.id, now=now)
    return sub


def link_received(
    db: Session, *, item: Evidence, now: datetime, policy: jobs.Policy | None = None
) -> None:
    """In the transaction that received `item`: link it to its request's case, if any, and
    (given the job policy) queue the notifications its author asked for.

    Closing a request stops new submissions only; uploads already started still land."""
    sub = db.get(Submission, item.submission_id)
    if sub is None or sub.request_id is None:
        return
    req = requests.get(db, request_id=sub.request_id)
    case = cases.get(db, case_id=req.case_id)
    cases.link_for_request(db, case=case, item=item, request_id=req.id, now=now)
    if policy is not None:
        notifications.queue(db, req=req, item=item, policy=policy, now=now)
