"""Triage: an investigator accepts or declines an item, and its retention date follows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.evidence import keeping
from portal.evidence import service as evidence
from portal.evidence.models import Evidence
from portal.retention import service as retention


def triage(
    db: Session,
    ctx: retention.Context,
    *,
    user: StaffUser,
    evidence_id: str,
    decision: str,
    reason: str,
    now: datetime,
    withdrawn_reason: str | None = None,
) -> Evidence:
    kept = None
    if decision == "accept":  # declining keeps nothing: no reason asked
        live = evidence.get_live(db, evidence_id=evidence_id)
        kept = keeping.reason_to_keep(db, item=live, reason=withdrawn_reason)
    item = evidence.triage(
        db,
        user=user,
        evidence_id=evidence_id,
        decision=decision,
        reason=reason,
        now=now,
        withdrawn_reason=kept,
    )
    retention.recompute(db, ctx, item=item, reason=f"triage: {item.status}", now=now)
    return item
