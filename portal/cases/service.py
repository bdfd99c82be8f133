"""Cases: open, list, link evidence, close and reopen.

Each change appends its custody event in the caller's transaction. What a change means for
how long the linked evidence is kept is retention's business: flows/cases.py does both.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.cases.models import Case, CaseLink, CaseState, Offense
from portal.custody import service as custody
from portal.custody.actors import SYSTEM
from portal.custody.events import EventType
from portal.errors import Conflict, NotFound
from portal.evidence.models import Evidence
from portal.ids import new_id


def create(
    db: Session,
    *,
    user: StaffUser,
    title: str,
    reference: str | None,
    now: datetime,
    offense: Offense = "felony",
) -> Case:
    case = Case(
        id=new_id(),
        title=title,
        reference=reference,
        status=CaseState.OPEN,
        offense=offense,
        created_at=now,
        created_by=user.id,
    )
    db.add(case)
    custody.append(
        db,
        type=EventType.CASE_CREATED,
        actor=user.actor,
        subject=case.id,
        details={"title": title, "reference": reference, "offense": offense},
        at=now,
    )
    return case


def get(db: Session, *, case_id: str) -> Case:
    case = db.get(Case, case_id)
    if case is None:
        raise NotFound("no such case")
    return case


def list_cases(db: Session) -> list[tuple[Case, int]]:
    counts = select(CaseLink.case_id, func.count().label("n")).group_by(CaseLink.case_id).subquery()
    rows = db.execute(
        select(Case, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.case_id == Case.id)
        .order_by(Case.created_at.desc())
    )
    return [(c, int(n)) for c, n in rows]


def link(
    db: Session,
    *,
    user: StaffUser,
    case: Case,
    item: Evidence,
    now: datetime,
    withdrawn_reason: str | None = None,
) -> None:
    """`withdrawn_reason`: why staff keep an item whose witness withdrew consent, in the event."""
    if db.get(CaseLink, (case.id, item.id)) is not None:
        raise Conflict("the item is already linked to this case", code="already_linked")
    db.add(CaseLink(case_id=case.id, evidence_id=item.id, linked_at=now, linked_by=user.id))
    custody.append(
        db,
        type=EventType.EVIDENCE_LINKED,
        actor=user.actor,
        subject=item.id,
        details={"case": case.id}
        | ({"consent_withdrawn_reason": withdrawn_reason} if withdrawn_reason else {}),
        at=now,
    )
    db.flush()


def link_for_request(
    db: Session, *, case: Case, item: Evidence, request_id: str, now: datetime
) -> None:
    """The system links a file uploaded through an evidence request to the request's case."""
    if db.get(CaseLink, (case.id, item.id)) is not None:
        return
    db.add(CaseLink(case_id=case.id, evidence_id=item.id, linked_at=now, linked_by=SYSTEM))
    custody.append(
        db,
        type=EventType.EVIDENCE_LINKED,
        actor=SYSTEM,
        subject=item.id,
        details={"case": case.id, "request": request_id},
        at=now,
    )
    db.flush()


def unlink(db: Session, *, user: StaffUser, case_id: str, evidence_id: str, now: datetime) -> None:
    found = db.get(CaseLink, (case_id, evidence_id))
    if found is None:
        raise NotFound("the item is not linked to this case")
    db.delete(found)
    custody.append(
        db,
        type=EventType.EVIDENCE_UNLINKED,
        actor=user.actor,
        subject=evidence_id,
        details={"case": case_id},
        at=now,
    )
    db.flush()


def close(
    db: Session, *, user: StaffUser, case_id: str, offense: Offense | None, now: datetime
) -> Case:
    case = get(db, case_id=case_id)
    if case.status == CaseState.CLOSED:
        raise Conflict("the case is already closed", code="case_closed")
    if offense is not None:
        case.offense = offense
    case.status, case.closed_at = CaseState.CLOSED, now
    custody.append(
        db,
        type=EventType.CASE_CLOSED,
        actor=user.actor,
        subject=case.id,
        details={"offense": case.offense},
        at=now,
    )
    return case


def set_offense(db: Session, *, case_id: str, offense: Offense) -> Case:
    """Change the offence class (a confirmed downgrade: the request's events record who)."""
    case = get(db, case_id=case_id)
    case.offense = offense
    return case


def reopen(db: Session, *, user: StaffUser, case_id: str, now: datetime) -> Case:
    case = get(db, case_id=case_id)
    if case.status == CaseState.OPEN:
        raise Conflict("the case is open", code="case_open")
    case.status, case.closed_at = CaseState.OPEN, None
    custody.append(
        db, type=EventType.CASE_REOPENED, actor=user.actor, subject=case.id, details={}, at=now
    )
    return case
