"""Whether an item may be destroyed now, judged from the custody log and the rules.

Someone holding the database can rewrite any column (`disposition`, `retain_until`,
`locked_until`, approval rows, a policy's `approvals_required`), but cannot append to the
signed log unseen. So a purge goes ahead only when the log says the item is due (its last
`retention.changed`), unheld (every `hold.placed` has its `hold.released`) and approved by
enough different staff (`disposition.approved` events), and the rules agree that it is due.
The columns can only make this stricter, never looser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.custody.models import LogEntry
from portal.evidence.models import Evidence
from portal.retention.models import RetentionPolicy
from portal.retention.service import (
    DEFAULT_POLICIES,
    Context,
    active_holds,
    approvals_floor,
    decide,
    iso,
)


@dataclass
class _Logged:
    """What the log says about one item, read in order."""

    category: str | None = None
    until: datetime | None = None
    date_event: int | None = None  # seq of the `retention.changed` that fixed the date
    holds: set[str] = field(default_factory=set)
    # category -> approver's staff id -> seq of their first approval in that category
    approvals: dict[str, dict[str, int]] = field(default_factory=dict)


def _read(db: Session, evidence_id: str) -> _Logged:
    out = _Logged()
    for entry in custody.events_about(db, subjects=[evidence_id]):
        event: dict[str, Any] = json.loads(entry.event)
        details = event["details"]
        if entry.type == EventType.RETENTION_CHANGED:
            new = details["new"]
            until = new["retain_until"]
            out.category, out.date_event = new["category"], entry.seq
            out.until = as_utc(datetime.fromisoformat(until)) if until else None
        elif entry.type == EventType.HOLD_PLACED:
            out.holds.add(details["hold"])
        elif entry.type == EventType.HOLD_RELEASED:
            out.holds.discard(details["hold"])
        elif entry.type == EventType.DISPOSITION_APPROVED:
            actor = Actor.parse(event["actor"])
            if actor.kind == "staff":
                by_staff = out.approvals.setdefault(details["category"], {})
                by_staff.setdefault(actor.id, entry.seq)
    return out


def approvals_required(db: Session, category: str) -> int:
    """The most any source asks for: the last logged rule, the table, and the floor."""
    last = db.scalars(
        select(LogEntry)
        .where(LogEntry.type == EventType.POLICY_CHANGED, LogEntry.subject == category)
        .order_by(LogEntry.seq.desc())
        .limit(1)
    ).first()
    default = DEFAULT_POLICIES.get(category)
    logged = (
        json.loads(last.event)["details"]["new"]["approvals_required"]
        if last
        else (default[2] if default else 0)
    )
    row = db.get(RetentionPolicy, category)
    return max(logged, row.approvals_required if row else 0, approvals_floor(category))


@dataclass(frozen=True)
class Verdict:
    category: str | None
    retain_until: datetime | None
    date_event: int | None
    approvals: dict[str, int]  # approver's staff id -> seq of the approval event
    required: int
    refusal: str | None  # why the item may not be destroyed now; None: it may

    def details(self) -> dict[str, Any]:
        """The decision, as `evidence.purge_started` names it."""
        return {
            "category": self.category,
            "retain_until": iso(self.retain_until),
            "retention_event": self.date_event,
            "approval_events": sorted(self.approvals.values()),
            "approvals_required": self.required,
        }


def _supervisor_when(db: Session, staff_id: str, seq: int) -> bool:
    """Whether the log says `staff_id` held the supervisor role at entry `seq`: created as one
    (not pending) or granted it (`staff.role_changed`, logged only after a confirmed request),
    and not disabled since. The `role` and `pending` columns alone never make an approver."""
    role: str | None = None
    for entry in db.scalars(
        select(LogEntry)
        .where(LogEntry.subject == staff_id, LogEntry.seq < seq)
        .where(
            LogEntry.type.in_(
                [EventType.STAFF_CREATED, EventType.STAFF_ROLE_CHANGED, EventType.STAFF_DISABLED]
            )
        )
        .order_by(LogEntry.seq)
    ):
        details = json.loads(entry.event)["details"]
        if entry.type == EventType.STAFF_CREATED:
            role = None if details.get("pending") else details.get("role")
        elif entry.type == EventType.STAFF_ROLE_CHANGED:
            role = details.get("to")
        else:
            role = None
    return role == "supervisor"


def judge(db: Session, ctx: Context, *, item: Evidence, as_of: datetime) -> Verdict:
    logged = _read(db, item.id)
    category = logged.category or ""
    approvals = {
        staff_id: seq
        for staff_id, seq in logged.approvals.get(category, {}).items()
        if _supervisor_when(db, staff_id, seq)
    }
    required = approvals_required(db, category)
    rules = decide(db, ctx, item=item)
    refusal: str | None = None
    if logged.date_event is None or logged.until is None:
        refusal = "the log records no date for it"
    elif logged.until > as_of:
        refusal = f"the log says it is kept until {iso(logged.until)}"
    elif rules.category != category or rules.until is None or rules.until > as_of:
        refusal = f"the rules keep it as {rules.category} until {iso(rules.until) or 'forever'}"
    elif logged.holds or active_holds(db, item.id):
        refusal = "it is under a legal hold"
    elif len(approvals) < required:
        refusal = f"the log holds {len(approvals)} of {required} approvals"
    return Verdict(logged.category, logged.until, logged.date_event, approvals, required, refusal)


def destroyed_on_record(db: Session, evidence_ids: list[str]) -> set[str]:
    """Which of these items the log says were destroyed (a `purged` column alone is not)."""
    return set(
        db.scalars(
            select(LogEntry.subject).where(
                LogEntry.type == EventType.EVIDENCE_PURGED, LogEntry.subject.in_(evidence_ids)
            )
        )
    )
