"""Keeping an item whose witness withdrew consent: accepting it or linking it to a case
overrides the withdrawal, so it needs a reason that the action's custody event records.
Checked by the triage and link flows, under every route (API, pages, bulk), not in one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.errors import Conflict
from portal.evidence.models import Evidence
from portal.submissions.models import Consent


def reason_to_keep(db: Session, *, item: Evidence, reason: str | None) -> str | None:
    """The reason, stripped; None when the witness's consent stands (nothing to explain)."""
    withdrawn = db.scalars(
        select(Consent.withdrawn_at)
        .where(Consent.submission_id == item.submission_id)
        .order_by(Consent.given_at.desc())
    ).first()
    if withdrawn is None:
        return None
    kept = (reason or "").strip()
    if len(kept) < 3:
        raise Conflict(
            "the witness withdrew consent: give a reason (withdrawn_reason) to keep the item",
            code="consent_withdrawn",
        )
    return kept
