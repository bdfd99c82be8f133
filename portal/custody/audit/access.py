"""Access reports for an auditor: what one staff member, or what was done to one item, in a
period, read from the custody log itself, with each line's log index and leaf hash so it can
be proved against a signed checkpoint.

A staff member's report holds every entry the log attributes to them (`actor` is
`staff:<id>:<role>`, whatever role they held then); an item's holds every entry that names
it (as the subject, as `details.evidence`, or in the items a listing or an export names).
Lines are flagged, never hidden: downloads beyond a threshold within a window (bulk), access
outside working hours (in the portal's time zone), and every look at a witness's contact.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.custody.models import Checkpoint, LogEntry


class Category(StrEnum):
    VIEWED = "viewed"
    DOWNLOADED = "downloaded"
    EXPORTED = "exported"
    SHARED = "shared"
    OTHER = "other"


class Flag(StrEnum):
    BULK = "bulk_download"
    OFF_HOURS = "off_hours"
    CONTACT = "contact_view"


_VIEWED = frozenset(
    {
        EventType.EVIDENCE_LISTED,
        EventType.EVIDENCE_VIEWED,
        EventType.EVIDENCE_THUMBNAIL_VIEWED,
        EventType.EVIDENCE_PROXY_VIEWED,
        EventType.EVIDENCE_STREAM_OPENED,
        EventType.EVIDENCE_STREAMED,
        EventType.EVIDENCE_TIMELINE_VIEWED,
        EventType.WITNESS_CONTACT_VIEWED,
    }
)
# Each original downloaded counts one toward a bulk flag; an export, one per item it holds.
_DOWNLOADS = (str(EventType.EVIDENCE_DOWNLOADED), str(EventType.EVIDENCE_EXPORTED))


def category(event_type: str) -> Category:
    if event_type in _VIEWED:
        return Category.VIEWED
    if event_type == EventType.EVIDENCE_DOWNLOADED:
        return Category.DOWNLOADED
    if event_type == EventType.EVIDENCE_EXPORTED:
        return Category.EXPORTED
    if event_type.startswith("share."):  # every event of a share, whatever it names
        return Category.SHARED
    return Category.OTHER


@dataclass(frozen=True)
class Rules:
    """What counts as unusual (PORTAL_AUDIT_* and PORTAL_TIME_ZONE)."""

    bulk_downloads: int
    bulk_window: timedelta
    day_start: time
    day_end: time
    working_days: frozenset[int]  # ISO weekdays, 1 is Monday
    zone: ZoneInfo

    @classmethod
    def from_settings(
        cls, *, bulk_downloads: int, bulk_window: timedelta, hours: str, days: str, zone: str
    ) -> Rules:
        start, end = (time.fromisoformat(part) for part in hours.split("-"))
        return cls(
            bulk_downloads=bulk_downloads,
            bulk_window=bulk_window,
            day_start=start,
            day_end=end,
            working_days=frozenset(int(d) for d in days.split(",")),
            zone=ZoneInfo(zone),
        )

    def off_hours(self, at: datetime) -> bool:
        local = as_utc(at).astimezone(self.zone)
        if local.isoweekday() not in self.working_days:
            return True
        return not self.day_start <= local.time().replace(tzinfo=None) < self.day_end


@dataclass(frozen=True)
class Line:
    seq: int
    at: datetime
    type: str
    actor: str
    subject: str
    details: dict[str, Any]
    leaf_hash: str  # hex, as the inclusion proof starts from
    category: Category
    flags: tuple[Flag, ...]

    @property
    def staff_id(self) -> str:
        actor = Actor.parse(self.actor)
        return actor.id if actor.kind == "staff" else ""


@dataclass
class AccessReport:
    start: datetime
    end: datetime
    staff_id: str | None
    evidence_id: str | None
    lines: list[Line] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    tree_size: int = 0

    def count(self, what: Category) -> int:
        return sum(1 for line in self.lines if line.category == what)

    def flagged(self, flag: Flag) -> int:
        return sum(1 for line in self.lines if flag in line.flags)


def _parse(row: LogEntry) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(row.event)
    return event


def _names_item(event: dict[str, Any], evidence_id: str) -> bool:
    if event.get("subject") == evidence_id:
        return True
    details = event.get("details")
    if not isinstance(details, dict):
        return False
    if details.get("evidence") == evidence_id:
        return True
    items = details.get("items")
    if isinstance(items, list):
        return any(
            i == evidence_id or (isinstance(i, dict) and i.get("evidence") == evidence_id)
            for i in items
        )
    return False


def _in_period(db: Session, start: datetime, end: datetime, types: Iterable[str] = ()) -> Any:
    query = select(LogEntry).where(LogEntry.at >= start, LogEntry.at < end)
    if types:
        query = query.where(LogEntry.type.in_(list(types)))
    return db.scalars(query.order_by(LogEntry.seq).execution_options(yield_per=2000))


def _bulk_seqs(db: Session, *, start: datetime, end: datetime, rules: Rules) -> set[int]:
    """The downloads and exports that, with the same staff member's others before them in
    the window, pass the threshold (each download counts one, an export its items)."""
    flagged: set[int] = set()
    recent: dict[str, deque[tuple[datetime, int, int]]] = defaultdict(deque)
    totals: dict[str, int] = defaultdict(int)
    for row in _in_period(db, start - rules.bulk_window, end, _DOWNLOADS):
        event = _parse(row)
        who, at = str(event.get("actor")), as_utc(row.at)
        items = event.get("details", {}).get("items")
        weight = len(items) if isinstance(items, list) else 1
        window = recent[who]
        window.append((at, row.seq, weight))
        totals[who] += weight
        while window and window[0][0] <= at - rules.bulk_window:
            totals[who] -= window.popleft()[2]
        if totals[who] > rules.bulk_downloads:
            flagged.update(seq for _, seq, _ in window)
    return flagged


def build(
    db: Session,
    *,
    start: datetime,
    end: datetime,
    rules: Rules,
    staff_id: str | None = None,
    evidence_id: str | None = None,
) -> AccessReport:
    """The report for one staff member or one item (exactly one) over [start, end)."""
    if (staff_id is None) == (evidence_id is None):
        raise ValueError("name a staff member or an item, not both")
    report = AccessReport(start=start, end=end, staff_id=staff_id, evidence_id=evidence_id)
    report.checkpoint = custody.latest_checkpoint(db)
    report.tree_size = custody.tree_size(db)
    bulk = _bulk_seqs(db, start=start, end=end, rules=rules)
    for row in _in_period(db, start, end):
        event = _parse(row)
        actor = Actor.parse(str(event.get("actor", "")))
        if staff_id is not None and not (actor.kind == "staff" and actor.id == staff_id):
            continue
        if evidence_id is not None and not _names_item(event, evidence_id):
            continue
        report.lines.append(_line(row, event, actor, bulk, rules))
    return report


def _line(row: LogEntry, event: dict[str, Any], actor: Actor, bulk: set[int], rules: Rules) -> Line:
    kind = category(row.type)
    flags: list[Flag] = []
    if row.seq in bulk:
        flags.append(Flag.BULK)
    if actor.kind == "staff" and kind != Category.OTHER and rules.off_hours(row.at):
        flags.append(Flag.OFF_HOURS)
    if row.type == EventType.WITNESS_CONTACT_VIEWED:
        flags.append(Flag.CONTACT)
    details = event.get("details")
    return Line(
        seq=row.seq,
        at=as_utc(row.at),
        type=row.type,
        actor=str(actor),
        subject=row.subject,
        details=details if isinstance(details, dict) else {},
        leaf_hash=row.leaf_hash.hex(),
        category=kind,
        flags=tuple(flags),
    )


def record_read(
    db: Session, *, report: AccessReport, actor: Actor, form: str, now: datetime
) -> LogEntry:
    """Reading who looked at what is itself a look: logged after the report is taken, so
    it never reports itself."""
    return custody.append(
        db,
        type=EventType.LOG_ACCESS_REPORT_READ,
        actor=actor,
        subject=report.staff_id or report.evidence_id or "log",
        details={
            "staff": report.staff_id,
            "evidence": report.evidence_id,
            "from": custody.rfc3339(report.start),
            "to": custody.rfc3339(report.end),
            "lines": len(report.lines),
            "format": form,
        },
        at=now,
    )
