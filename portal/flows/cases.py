"""Case changes that move retention dates: linking, unlinking, closing and reopening.

Closing with a lighter offence class than the case's own closes the case but only *asks* for
the downgrade: a second supervisor confirms it (flows/changes.py), or it never happens.

The case records the change and its custody event; retention then recomputes every item the
change touches, in the same transaction, so no item is ever left with a date from before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.cases import service as cases
from portal.cases.models import Case, Offense, is_downgrade
from portal.changes import service as changes
from portal.changes.models import ChangeKind, ChangeRequest
from portal.evidence import keeping
from portal.evidence import service as evidence
from portal.retention import service as retention


def link(
    db: Session,
    ctx: retention.Context,
    *,
    user: StaffUser,
    case_id: str,
    evidence_id: str,
    now: datetime,
    withdrawn_reason: str | None = None,
) -> None:
    case = cases.get(db, case_id=case_id)
    item = evidence.get_live(db, evidence_id=evidence_id)
    kept = keeping.reason_to_keep(db, item=item, reason=withdrawn_reason)
    cases.link(db, user=user, case=case, item=item, now=now, withdrawn_reason=kept)
    retention.recompute(db, ctx, item=item, reason=f"linked to case {case.id}", now=now)


def unlink(
    db: Session,
    ctx: retention.Context,
    *,
    user: StaffUser,
    case_id: str,
    evidence_id: str,
    now: datetime,
) -> None:
    cases.unlink(db, user=user, case_id=case_id, evidence_id=evidence_id, now=now)
    item = evidence.get(db, evidence_id=evidence_id)
    retention.recompute(db, ctx, item=item, reason=f"unlinked from case {case_id}", now=now)


@dataclass(frozen=True)
class Closure:
    case: Case  # closed, with its offence as it stands: unchanged while a downgrade is pending
    request: ChangeRequest | None


def close(
    db: Session,
    ctx: retention.Context,
    *,
    user: StaffUser,
    case_id: str,
    offense: Offense | None,
    now: datetime,
) -> Closure:
    """Close a case; a lighter offence class than its own becomes a request."""
    current = cases.get(db, case_id=case_id)
    downgrade = offense is not None and is_downgrade(current.offense, offense)
    old_offense = current.offense
    case = cases.close(
        db, user=user, case_id=case_id, offense=None if downgrade else offense, now=now
    )
    req = None
    if downgrade:
        req = changes.request(
            db,
            user=user,
            kind=ChangeKind.OFFENSE,
            target=case.id,
            old={"offense": old_offense},
            new={"offense": offense},
            now=now,
        )
    retention.recompute_case(db, ctx, case_id=case.id, reason=f"case {case.id} closed", now=now)
    return Closure(case, req)


def reopen(
    db: Session, ctx: retention.Context, *, user: StaffUser, case_id: str, now: datetime
) -> Case:
    case = cases.reopen(db, user=user, case_id=case_id, now=now)
    retention.recompute_case(db, ctx, case_id=case.id, reason=f"case {case.id} reopened", now=now)
    return case
