"""The auditor's access report (portal.custody.audit.access): a staff member's or an item's
log entries over a period, with the unusual ones flagged, as a page, CSV or PDF."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import Query, Request
from fastapi.responses import Response

from portal.auth import service as staff_auth
from portal.auth.models import StaffUser
from portal.auth.permissions import Permission
from portal.custody.audit import access
from portal.db import transaction
from portal.deps import RuntimeDep
from portal.errors import Invalid
from portal.runtime import Runtime
from portal.web import audit_print
from portal.web.access import need
from portal.web.rendering import render, translator
from portal.web.routing import router

Auditor = Annotated[StaffUser, need(Permission.LOG)]
MAX_DAYS = 366  # one report scans the period's entries: a bound on what one request reads
_ID = re.compile(r"^[0-9a-f]{32}$")
Form = Literal["page", "csv", "pdf"]


def rules(rt: Runtime) -> access.Rules:
    s = rt.settings
    return access.Rules.from_settings(
        bulk_downloads=s.audit_bulk_downloads,
        bulk_window=s.audit_bulk_window,
        hours=s.audit_working_hours,
        days=s.audit_working_days,
        zone=s.time_zone,
    )


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{what} must be a date (YYYY-MM-DD)", code="bad_date") from None


def period(rt: Runtime, first: str, last: str) -> tuple[datetime, datetime]:
    """[start of `first`, end of `last`) in the portal's time zone; the last 30 days if unsaid."""
    zone = rules(rt).zone
    today = rt.clock().astimezone(zone).date()
    end_day = _day(last, "to") if last else today
    start_day = _day(first, "from") if first else end_day - timedelta(days=29)
    if start_day > end_day:
        raise Invalid("the period's first day comes after its last", code="bad_period")
    if (end_day - start_day).days >= MAX_DAYS:
        raise Invalid(f"a report covers at most {MAX_DAYS} days", code="bad_period")
    start = datetime.combine(start_day, time(), zone)
    return start, datetime.combine(end_day + timedelta(days=1), time(), zone)


@router.get("/staff/audit", response_model=None)
def audit_page(
    request: Request,
    rt: RuntimeDep,
    user: Auditor,
    staff: Annotated[str, Query(max_length=64)] = "",
    item: Annotated[str, Query(max_length=64)] = "",
    first: Annotated[str, Query(alias="from", max_length=10)] = "",
    last: Annotated[str, Query(alias="to", max_length=10)] = "",
    form: Annotated[Form, Query(alias="format")] = "page",
) -> Response:
    t = translator(request)
    staff, item = staff.strip(), item.strip().lower()
    if not staff and not item:
        if form != "page":
            raise Invalid("name a staff member or an item", code="no_subject")
        return render(
            request,
            "staff/audit.html",
            user=user,
            report=None,
            query={"staff": "", "item": "", "from": "", "to": ""},
        )
    if staff and item:
        raise Invalid("name a staff member or an item, not both", code="both_subjects")
    if item and not _ID.match(item):
        raise Invalid("an item id is 32 hexadecimal characters", code="bad_item")
    start, end = period(rt, first, last)
    with transaction(rt.sessions) as db:
        staff_id = staff_auth.find_user(db, name=staff).id if staff else None
        report = access.build(
            db, start=start, end=end, rules=rules(rt), staff_id=staff_id, evidence_id=item or None
        )
        names = staff_auth.names_of(db, user_ids={line.staff_id for line in report.lines} - {""})
        access.record_read(db, report=report, actor=user.actor, form=form, now=rt.clock())
    shown = audit_print.Shown(report=report, names=names, subject=staff or item, t=t)
    if form == "csv":
        return Response(
            audit_print.csv_text(shown),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{shown.file_name}.csv"'},
        )
    if form == "pdf":
        return Response(
            audit_print.pdf_bytes(shown, verifier=rt.log_verifier),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{shown.file_name}.pdf"'},
        )
    query = {"staff": staff, "item": item, "from": first, "to": last}
    return render(
        request,
        "staff/audit.html",
        user=user,
        report=report,
        shown=shown,
        counts=audit_print.counts(report),
        query=query,
        public_key=rt.log_verifier,
    )
