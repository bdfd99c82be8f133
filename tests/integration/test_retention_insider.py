"""No single insider destroys early: database edits alone never drive a purge (it judges each
item from the custody log), an override never shortens, and the gravest categories keep two
approvals whatever a supervisor sets. On both backends: on S3 the purge's governance bypass is
real, so a bypass asked for on a column's word would destroy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from portal.auth.models import StaffUser
from portal.evidence.models import Evidence
from portal.retention.decision import judge
from portal.retention.disposition import RunReport
from portal.retention.models import Approval, Hold, RetentionPolicy
from tests.support.api import runtime, staff_login
from tests.support.retention import (
    T0,
    Clock,
    approve,
    close,
    confirm_change,
    events,
    hold,
    item,
    link,
    new_case,
    new_witness,
    send,
    triage,
    until_of,
    varied,
)

pytestmark = pytest.mark.both_backends

DAY = timedelta(days=1)
YEAR = timedelta(days=365)
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def run(client: TestClient, **kw: Any) -> RunReport:
    return runtime(client).run_retention(**kw)


def edit(client: TestClient, *statements: Any) -> None:
    """What someone holding the database can do: SQL straight to the tables."""
    with runtime(client).sessions.begin() as db:
        for statement in statements:
            db.execute(statement)


def stored(client: TestClient, evidence_id: str) -> bool:
    return runtime(client).storage.exists(item(client, evidence_id).storage_key)


def assert_untouched(client: TestClient, evidence_id: str) -> None:
    assert stored(client, evidence_id)
    assert item(client, evidence_id).disposition is None
    assert events(client, "evidence.purge_started", evidence_id) == []
    assert events(client, "evidence.purged", evidence_id) == []


def closed_felony(client: TestClient, sup: dict[str, str], data: bytes) -> str:
    ev = send(client, new_witness(client), data)
    case = new_case(client, sup, offense="felony")
    link(client, sup, case, ev)
    close(client, sup, case)
    return ev


# --- database edits -------------------------------------------------------------------------------


def test_marking_an_item_purging_in_the_database_destroys_nothing(
    client: TestClient, clock: Clock, clip: bytes
) -> None:
    """Issue 14, item 4: `disposition='purging'` and a far `locked_until` used to make the next
    run delete the original, bypassing the storage lock."""
    ev = send(client, new_witness(client), varied(clip, "purging"))
    clock.now = T0 + 10 * DAY
    edit(
        client,
        update(Evidence)
        .where(Evidence.id == ev)
        .values(disposition="purging", locked_until=FAR, retain_until=T0),
    )
    report = run(client)
    assert_untouched(client, ev)
    assert report.mismatched == [ev] and report.destroyed == []
    [halted] = events(client, "evidence.purge_halted", ev)
    assert "kept until" in halted["details"]["reason"]
    # Still due by the edited date, still refused, and nothing more to log.
    assert run(client, dry_run=True).mismatched == [ev]
    assert run(client).mismatched == [ev]
    assert len(events(client, "evidence.purge_halted", ev)) == 1
    assert_untouched(client, ev)


@pytest.mark.parametrize("approvals", ["policy lowered", "approval rows added"])
def test_edited_dates_and_approvals_destroy_nothing(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes, approvals: str
) -> None:
    """A closed felony item (two approvals, ten years) brought forward by editing its date, and
    its approvals by editing the policy row or adding approval rows, stays."""
    ev = closed_felony(client, sup, varied(clip, approvals))
    waived = (
        update(RetentionPolicy)
        .where(RetentionPolicy.category == "case-closed-felony")
        .values(approvals_required=0)
        if approvals == "policy lowered"
        else None
    )
    rows = [
        Approval(evidence_id=ev, approver_id=who, category="case-closed-felony", approved_at=T0)
        for who in ("nobody1", "nobody2")
    ]
    edit(client, update(Evidence).where(Evidence.id == ev).values(retain_until=T0 + DAY))
    if waived is not None:
        edit(client, waived)
    else:
        with runtime(client).sessions.begin() as db:
            db.add_all(rows)
    clock.now = T0 + 30 * DAY
    report = run(client)
    assert_untouched(client, ev)
    # The floor keeps a lowered row at two, so it waits; forged rows are caught by the log.
    waiting = approvals == "policy lowered"
    assert report.destroyed == []
    assert (report.awaiting_approval, report.mismatched) == (([ev], []) if waiting else ([], [ev]))


def test_a_policy_row_lowered_in_the_database_does_not_waive_the_logged_rule(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    """`no-case` has no floor: the one approval its logged rule asks for still counts."""
    ev = send(client, new_witness(client), varied(clip, "no-case"))
    triage(client, sup, ev, "accept")
    edit(
        client,
        update(RetentionPolicy)
        .where(RetentionPolicy.category == "no-case")
        .values(approvals_required=0),
        update(Evidence).where(Evidence.id == ev).values(retain_until=T0 + DAY),
    )
    clock.now = T0 + 30 * DAY
    report = run(client)
    assert_untouched(client, ev)
    assert report.destroyed == [] and report.mismatched == [ev]


def test_a_hold_released_only_in_the_database_still_holds(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    ev = send(client, new_witness(client), varied(clip, "held"))
    hold(client, sup, ev)
    edit(client, update(Hold).where(Hold.evidence_id == ev).values(released_at=T0 + DAY))
    clock.now = T0 + 366 * DAY
    report = run(client)
    assert_untouched(client, ev)
    assert report.destroyed == [] and report.mismatched == [ev]


def test_a_shared_object_stays_while_the_log_says_a_sharer_lives(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    """Marking the other user of a stored object `purged` in the database must not let the
    destruction of the first take the object with it."""
    data = varied(clip, "shared")
    first = send(client, new_witness(client), data)
    kept = send(client, new_witness(client), data)
    assert item(client, first).storage_key == item(client, kept).storage_key
    link(client, sup, new_case(client, sup), kept)
    edit(client, update(Evidence).where(Evidence.id == kept).values(disposition="purged"))
    clock.now = T0 + 366 * DAY
    assert run(client).destroyed == [first]
    assert stored(client, kept)
    [purged] = events(client, "evidence.purged", first)
    assert purged["details"]["object_kept_for"] == kept


# --- what a purge records -------------------------------------------------------------------------


@pytest.mark.local_only  # S3's locks keep the real clock: years ahead, nothing is deletable
def test_a_purge_logs_its_decision_before_deleting(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    ev = send(client, new_witness(client), varied(clip, "decision"))
    triage(client, sup, ev, "accept")
    until = until_of(client, ev)
    assert until is not None and item(client, ev).retention_category == "no-case"
    clock.now = until + DAY
    # Sessions do not outlive the years: the approver logs in now.
    r = approve(client, staff_login(client, "supervisor", name="sven"), ev)
    assert r.status_code == 200, r.text
    # Approval rows only decide what waits for approval; the log decides what is destroyed.
    edit(client, delete(Approval).where(Approval.evidence_id == ev))
    assert run(client).awaiting_approval == [ev]
    with runtime(client).sessions.begin() as db:
        db.add(Approval(evidence_id=ev, approver_id="x", category="no-case", approved_at=T0))
    assert run(client).destroyed == [ev]
    [approved] = events(client, "disposition.approved", ev)
    [started] = events(client, "evidence.purge_started", ev)
    [purged] = events(client, "evidence.purged", ev)
    assert approved["seq"] < started["seq"] < purged["seq"]
    assert started["details"] == {
        "category": "no-case",
        "retain_until": started["details"]["retain_until"],
        "retention_event": events(client, "retention.changed", ev)[-1]["seq"],
        "approval_events": [approved["seq"]],
        "approvals_required": 1,
    }
    assert datetime.fromisoformat(started["details"]["retain_until"]) == until
    assert purged["details"]["purge_started"] == started["seq"]
    assert purged["details"]["approvers"] == [approved["actor"].split(":")[1]]
    assert not stored(client, ev)


def test_an_approver_made_in_the_database_is_not_counted(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    """Someone holding the database turns an investigator into a supervisor (the `role`
    column) and a pending supervisor into an active one (`pending`): their approvals count
    only if the log says they held the role, so nothing is destroyed."""
    ev = send(client, new_witness(client), varied(clip, "flipped"))
    triage(client, sup, ev, "accept")
    until = until_of(client, ev)
    assert until is not None
    clock.now = until + DAY
    ivan = staff_login(client, "investigator", name="ivan")
    rt = runtime(client)
    with rt.sessions() as db:
        ivan_id = db.scalars(select(StaffUser.id).where(StaffUser.name == "ivan")).one()
    edit(client, update(StaffUser).where(StaffUser.id == ivan_id).values(role="supervisor"))
    r = approve(client, ivan, ev)
    assert r.status_code == 200, r.text  # the pages believe the column
    report = run(client)
    assert ev not in report.destroyed and ev in report.mismatched + report.awaiting_approval
    assert_untouched(client, ev)
    # A real supervisor's approval, on the record, is what counts.
    r = approve(client, staff_login(client, "supervisor", name="sven"), ev)
    assert r.status_code == 200, r.text
    with rt.sessions() as db:
        verdict = judge(db, rt.retention, item=item(client, ev), as_of=clock.now)
        sven_id = db.scalars(select(StaffUser.id).where(StaffUser.name == "sven")).one()
    assert set(verdict.approvals) == {sven_id} and verdict.refusal is None


# --- the API ----------------------------------------------------------------------------------


def override(client: TestClient, sup: dict[str, str], ev: str, until: datetime | None) -> Any:
    body = {"until": until.isoformat() if until else None, "reason": "trial in 2040"}
    return client.put(f"/api/v1/evidence/{ev}/retention", json=body, headers=sup)


def test_an_override_that_would_shorten_is_refused_and_not_logged(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    """Issue 14, item 5: a date earlier than the current one answered 200 and was logged."""
    ev = send(client, new_witness(client), varied(clip, "shorten"))
    until = until_of(client, ev)
    assert until is not None
    indefinite = send(client, new_witness(client), varied(clip, "forever"))
    link(client, sup, new_case(client, sup), indefinite)

    def refused(evidence_id: str, to: datetime | None) -> None:
        def state() -> tuple[Any, ...]:
            it = item(client, evidence_id)
            return it.retain_until, it.retention_override, it.locked_until, len(events(client))

        before = state()
        r = override(client, sup, evidence_id, to)
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "would_shorten" and r.json()["message"]
        assert state() == before

    refused(ev, until - DAY)
    refused(indefinite, T0 + 50 * YEAR)
    # Lengthening is fine; taking that override away again would shorten.
    assert override(client, sup, ev, until + YEAR).status_code == 200
    assert until_of(client, ev) == until + YEAR
    refused(ev, None)
    refused(ev, until + DAY)
    assert until_of(client, ev) == until + YEAR
    assert len(events(client, "retention.overridden", ev)) == 1


@pytest.mark.parametrize(
    ("category", "lowest"), [("homicide", 2), ("case-closed-felony", 2), ("no-case", 0)]
)
def test_approvals_required_has_a_floor(
    client: TestClient, clock: Clock, sup: dict[str, str], category: str, lowest: int
) -> None:
    """Issue 14, item 3: one supervisor set homicide's `approvals_required` to 0."""
    url = f"/api/v1/retention/policies/{category}"
    policies = {
        p["category"]: p for p in client.get("/api/v1/retention/policies", headers=sup).json()
    }
    body = {"keep_days": 30, "trigger": "case_closure", "approvals_required": 0}
    r = client.put(url, json={**body, "approvals_required": lowest - 1}, headers=sup)
    if lowest == 0:
        assert r.status_code == 422 and r.json()["error"] == "invalid", r.text
    else:
        size = len(events(client))
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "below_approvals_floor" and str(lowest) in r.json()["message"]
        assert len(events(client)) == size
        after = {
            p["category"]: p for p in client.get("/api/v1/retention/policies", headers=sup).json()
        }
        assert after[category] == policies[category]
    assert policies[category]["approvals_floor"] == lowest
    # At the floor is allowed, though only as a request a second supervisor confirms.
    r = client.put(url, json={**body, "approvals_required": lowest}, headers=sup)
    assert r.status_code == 202, r.text
    confirm_change(client, staff_login(client, "supervisor", name="sven"), r.json()["id"])
    after = {p["category"]: p for p in client.get("/api/v1/retention/policies", headers=sup).json()}
    assert after[category]["approvals_required"] == lowest
