"""Retention: policies as data, computed retain-until dates (longest rule wins), legal holds,
consent withdrawal, approvals (two-person rule), crash-safe destruction with tombstones, and
`portal retention run`.

Time is moved by replacing the runtime's clock (`Clock`, from tests/support/retention.py): the
local storage backend judges its retention locks by that same clock, so a run "years later"
really may delete.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from portal.app import create_app
from portal.auth.models import StaffUser
from portal.cli import app as cli_app
from portal.clock import as_utc, utcnow
from portal.config import Settings
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.flows.content_audit import audit_log_and_content
from portal.retention.disposition import RunReport
from portal.retention.service import DEFAULT_POLICIES
from portal.storage import ObjectLocked, StorageUnavailable
from portal.submissions.models import Submission
from tests.support.api import runtime
from tests.support.custody import log_size
from tests.support.retention import (
    T0,
    Clock,
    Witness,
    approve,
    close,
    confirm_change,
    events,
    hold,
    item,
    link,
    new_case,
    new_witness,
    original,
    put_policy,
    release,
    send,
    tombstone,
    triage,
    unlink,
    until_of,
    varied,
    withdraw,
)

DAY = timedelta(days=1)
YEAR = timedelta(days=365)
GRACE = timedelta(days=7)


# --- the portal, its clock and its media ---------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Staff sessions must outlive the years these tests travel through.
    return Settings(data_dir=tmp_path / "data", session_ttl=timedelta(days=40 * 365))


def submission(client: TestClient, submission_id: str) -> Submission:
    with runtime(client).sessions() as db:
        found = db.get(Submission, submission_id)
        assert found is not None
        return found


def staff_id(client: TestClient, name: str) -> str:
    with runtime(client).sessions() as db:
        return str(db.scalar(select(StaffUser.id).where(StaffUser.name == name)))


def poster(settings: Settings, sha256: str) -> Path:
    return settings.data_dir / "storage" / "derived" / sha256 / "poster.jpg"


def run(client: TestClient, as_of: datetime | None = None, dry_run: bool = False) -> RunReport:
    return runtime(client).run_retention(as_of=as_of, dry_run=dry_run)


def iso(at: datetime) -> str:
    return custody.rfc3339(at)


def parse(text: str | None) -> datetime | None:
    """An API timestamp; those read back from SQLite carry no offset but are UTC."""
    return as_utc(datetime.fromisoformat(text)) if text else None


def file_status(client: TestClient, witness: Witness, evidence_id: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/submissions/{witness.id}", headers=witness.auth)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = next(f for f in r.json()["files"] if f["id"] == evidence_id)
    return found


def assert_destroyed(client: TestClient, settings: Settings, evidence_id: str) -> None:
    it = item(client, evidence_id)
    assert it.disposition == "purged"
    stone = tombstone(client, evidence_id)
    assert stone is not None and stone.sha256 == it.sha256 and stone.size == it.size
    assert not original(settings, it.sha256).exists()
    assert not poster(settings, it.sha256).exists()
    assert len(events(client, "evidence.purged", evidence_id)) == 1
    # The audit, content check included, accepts an original that is gone by design.
    rt = runtime(client)
    with rt.sessions() as db:
        audit = audit_log_and_content(
            db, rt.storage, verifier_key=rt.log_verifier, origin=settings.log_origin
        )
    assert audit.ok, audit.text()


def assert_kept(client: TestClient, settings: Settings, evidence_id: str) -> None:
    it = item(client, evidence_id)
    assert it.disposition is None
    assert tombstone(client, evidence_id) is None
    assert original(settings, it.sha256).exists()
    assert events(client, "evidence.purged", evidence_id) == []


# --- policies ----------------------------------------------------------------------------------


def test_policies_are_data_that_supervisors_change_and_items_follow(
    client: TestClient,
    clock: Clock,
    sup: dict[str, str],
    sup2: dict[str, str],
    inv: dict[str, str],
    clip: bytes,
) -> None:
    r = client.get("/api/v1/retention/policies", headers=sup)
    assert r.status_code == 200, r.text
    got = {p["category"]: (p["keep_days"], p["trigger"], p["approvals_required"]) for p in r.json()}
    assert got == DEFAULT_POLICIES
    assert client.get("/api/v1/retention/policies", headers=inv).status_code == 403

    ev = send(client, new_witness(client), varied(clip, "policy"))
    assert item(client, ev).retention_category == "unreviewed"
    assert until_of(client, ev) == T0 + 365 * DAY

    clock.now = T0 + 10 * DAY
    new = {"keep_days": 30, "trigger": "receipt", "approvals_required": 1}
    url = "/api/v1/retention/policies/unreviewed"
    assert client.put(url, json=new, headers=inv).status_code == 403
    # Shortening is a request until a second supervisor confirms it.
    r = client.put(url, json=new, headers=sup)
    assert r.status_code == 202, r.text
    assert until_of(client, ev) == T0 + 365 * DAY
    confirm_change(client, sup2, r.json()["id"])
    policies = client.get("/api/v1/retention/policies", headers=sup).json()
    policy = next(p for p in policies if p["category"] == "unreviewed")
    assert (policy["keep_days"], policy["approvals_required"]) == (30, 1)
    changed = events(client, "policy.changed", "unreviewed")
    assert len(changed) == 1
    assert changed[0]["details"] == {
        "old": {"keep_days": 365, "trigger": "receipt", "approvals_required": 0},
        "new": new,
    }
    # The item follows, with the old value, the new one and why.
    assert until_of(client, ev) == T0 + 30 * DAY
    last = events(client, "retention.changed", ev)[-1]["details"]
    assert last == {
        "old": {"category": "unreviewed", "retain_until": iso(T0 + 365 * DAY)},
        "new": {"category": "unreviewed", "retain_until": iso(T0 + 30 * DAY)},
        "reason": "policy unreviewed changed",
    }
    # The new approval count applies too.
    clock.now = T0 + 31 * DAY
    report = run(client)
    assert report.awaiting_approval == [ev] and report.destroyed == []

    # Indefinitely (null) is a policy too.
    r = client.put(url, json={**new, "keep_days": None}, headers=sup)
    assert r.status_code == 200, r.text
    assert until_of(client, ev) is None
    assert run(client).awaiting_approval == []

    bad = client.put("/api/v1/retention/policies/nonesuch", json=new, headers=sup)
    assert bad.status_code == 404
    for body in (
        {**new, "trigger": "withdrawal"},
        {**new, "approvals_required": 3},
        {**new, "keep_days": 0},
        {**new, "extra": 1},
    ):
        assert client.put(url, json=body, headers=sup).status_code == 422, body


# --- computing retain-until ----------------------------------------------------------------------


def test_retain_until_follows_triage_links_closure_and_reopening(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    ev = send(client, new_witness(client), varied(clip, "triage"))
    steps: list[tuple[str | None, datetime | None, str]] = [
        ("unreviewed", T0 + 365 * DAY, "received")
    ]

    def expect(category: str, until: datetime | None, reason: str) -> None:
        steps.append((category, until, reason))
        it = item(client, ev)
        assert (it.retention_category, until_of(client, ev)) == (category, until)
        last = events(client, "retention.changed", ev)[-1]["details"]
        assert last["reason"] == reason
        assert last["new"] == {
            "category": category,
            "retain_until": iso(until) if until else None,
        }
        prev_category, prev_until, _ = steps[-2]
        assert last["old"] == {
            "category": prev_category,
            "retain_until": iso(prev_until) if prev_until else None,
        }

    clock.now = T0 + 1 * DAY
    triage(client, sup, ev, "decline")
    expect("declined", T0 + 1 * DAY + 90 * DAY, "triage: declined")
    clock.now = T0 + 2 * DAY
    triage(client, sup, ev, "accept")
    expect("no-case", T0 + 2 * DAY + 730 * DAY, "triage: accepted")

    clock.now = T0 + 3 * DAY
    case = new_case(client, sup, offense="misdemeanor")
    link(client, sup, case, ev)
    expect("case-open", None, f"linked to case {case}")

    clock.now = T0 + 4 * DAY
    close(client, sup, case)
    expect("case-closed-misdemeanor", T0 + 4 * DAY + 3 * 365 * DAY, f"case {case} closed")
    assert events(client, "case.closed", case)[0]["details"] == {"offense": "misdemeanor"}

    clock.now = T0 + 5 * DAY
    r = client.post(f"/api/v1/cases/{case}/reopen", headers=sup)
    assert r.status_code == 200, r.text
    expect("case-open", None, f"case {case} reopened")

    clock.now = T0 + 6 * DAY
    close(client, sup, case, offense="felony")
    expect("case-closed-felony", T0 + 6 * DAY + 10 * 365 * DAY, f"case {case} closed")
    assert client.post(f"/api/v1/cases/{case}/close", json={}, headers=sup).status_code == 409

    clock.now = T0 + 7 * DAY
    unlink(client, sup, case, ev)
    expect("no-case", T0 + 2 * DAY + 730 * DAY, f"unlinked from case {case}")

    # One event per change, none for recomputations that changed nothing.
    assert len(events(client, "retention.changed", ev)) == len(steps)
    # Storage was only ever told later dates.
    locked = item(client, ev).locked_until
    assert locked is not None
    assert locked.replace(tzinfo=UTC) == T0 + 6 * DAY + 10 * 365 * DAY


def test_longest_rule_wins(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    w = new_witness(client)
    ev = send(client, w, varied(clip, "longest"))
    triage(client, sup, ev, "accept")
    open_case = new_case(client, sup, offense="felony")
    minor = new_case(client, sup, offense="misdemeanor")
    link(client, sup, minor, ev)
    clock.now = T0 + 1 * DAY
    close(client, sup, minor)
    assert item(client, ev).retention_category == "case-closed-misdemeanor"
    assert until_of(client, ev) == T0 + 1 * DAY + 3 * YEAR

    # In an open case and a closed misdemeanor case: indefinitely.
    link(client, sup, open_case, ev)
    assert (item(client, ev).retention_category, until_of(client, ev)) == ("case-open", None)
    status = file_status(client, w, ev)["retention"]
    assert status["state"] == "kept" and status["until"] is None
    assert run(client, as_of=T0 + 30 * YEAR, dry_run=True) == RunReport()

    # Both closed: the felony's ten years beat the misdemeanor's three.
    clock.now = T0 + 10 * DAY
    close(client, sup, open_case)
    assert item(client, ev).retention_category == "case-closed-felony"
    assert until_of(client, ev) == T0 + 10 * DAY + 10 * YEAR

    # A homicide case keeps it indefinitely, open or closed.
    murder = new_case(client, sup, offense="homicide")
    link(client, sup, murder, ev)
    assert (item(client, ev).retention_category, until_of(client, ev)) == ("homicide", None)
    close(client, sup, murder)
    assert (item(client, ev).retention_category, until_of(client, ev)) == ("homicide", None)


# --- legal holds -------------------------------------------------------------------------------


def test_a_held_item_is_never_destroyed_whatever_its_date(
    client: TestClient,
    settings: Settings,
    clock: Clock,
    sup: dict[str, str],
    inv: dict[str, str],
    clip: bytes,
) -> None:
    ev = send(client, new_witness(client), varied(clip, "held"))
    forbidden = client.post(
        f"/api/v1/evidence/{ev}/holds", json={"reason": "court order"}, headers=inv
    )
    assert forbidden.status_code == 403
    hold_id = hold(client, sup, ev)
    assert events(client, "hold.placed", ev)[0]["details"]["hold"] == hold_id
    forecast = client.get("/api/v1/retention/forecast?days=400", headers=sup).json()
    assert [(f["evidence_id"], f["held"]) for f in forecast] == [(ev, True)]

    clock.now = T0 + 20 * YEAR
    assert client.get("/api/v1/retention/due", headers=sup).json() == []
    report = run(client)
    assert report.destroyed == [] and report.awaiting_approval == []
    assert_kept(client, settings, ev)
    # Storage refuses too, even when asked to bypass governance retention.
    key = item(client, ev).storage_key
    with pytest.raises(ObjectLocked):
        runtime(client).storage.delete(key, bypass_governance=True)
    detail = client.get(f"/api/v1/evidence/{ev}", headers=sup).json()
    assert [h["id"] for h in detail["holds"]] == [hold_id]

    r = release(client, sup, hold_id)
    assert r.status_code == 200 and r.json()["released_at"] is not None
    again = release(client, sup, hold_id)
    assert again.status_code == 409 and again.json()["error"] == "hold_released"
    assert events(client, "hold.released", ev)[0]["details"]["hold"] == hold_id
    assert run(client).destroyed == [ev]
    assert_destroyed(client, settings, ev)
    late = client.post(f"/api/v1/evidence/{ev}/holds", json={"reason": "too late"}, headers=sup)
    assert late.status_code == 409 and late.json()["error"] == "purged"


# --- consent withdrawal ------------------------------------------------------------------------


def test_withdrawal_destroys_free_items_after_the_grace_period(
    client: TestClient, settings: Settings, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    w = new_witness(client)
    ev1 = send(client, w, varied(clip, "w1"), name="one.mp4")
    ev2 = send(client, w, varied(clip, "w2"), name="two.mp4")
    other = send(client, new_witness(client), varied(clip, "w3"))
    shas = {e: item(client, e).sha256 for e in (ev1, ev2, other)}
    assert all(poster(settings, s).exists() for s in shas.values())
    before = events(client)

    withdrawn_at = T0 + 1 * DAY
    clock.now = withdrawn_at
    r = withdraw(client, w)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "withdrawn" and parse(body["withdrawn_at"]) == withdrawn_at
    for f in body["files"]:
        assert f["retention"]["state"] == "scheduled"
        assert parse(f["retention"]["until"]) == withdrawn_at + GRACE
        assert f["retention"]["reason"].startswith("to be destroyed after")
    assert events(client, "consent.withdrawn", w.id)[0]["actor"] == f"witness:{w.id}"
    assert events(client, "retention.changed", ev1)[-1]["details"]["new"] == {
        "category": "withdrawn",
        "retain_until": iso(withdrawn_at + GRACE),
    }
    again = withdraw(client, w)
    assert again.status_code == 409 and again.json()["error"] == "already_withdrawn"
    # Nothing more can be added.
    refused = client.post(
        "/api/v1/uploads",
        headers={
            "Tus-Resumable": "1.0.0",
            **w.auth,
            "Upload-Length": "10",
            "Upload-Metadata": "filename Y2xpcC5tcDQ=",
        },
    )
    assert refused.status_code == 409 and refused.json()["error"] == "withdrawn"
    forecast = client.get("/api/v1/retention/forecast?days=30", headers=sup).json()
    assert {f["evidence_id"] for f in forecast} == {ev1, ev2}

    # Not before the grace period is over...
    clock.now = withdrawn_at + GRACE - timedelta(seconds=1)
    assert run(client).destroyed == []
    for e in (ev1, ev2):
        assert_kept(client, settings, e)
    # ...and then, without anyone's approval.
    clock.now = withdrawn_at + GRACE
    report = run(client)
    assert sorted(report.destroyed) == sorted([ev1, ev2])
    for e in (ev1, ev2):
        assert_destroyed(client, settings, e)
        stone = tombstone(client, e)
        assert stone is not None
        assert stone.category == "withdrawn" and stone.approvers == []
        assert stone.received_at.replace(tzinfo=UTC) == T0
        assert stone.purged_at.replace(tzinfo=UTC) == clock.now
        assert stone.retain_until is not None
        assert stone.retain_until.replace(tzinfo=UTC) == withdrawn_at + GRACE
        purged = events(client, "evidence.purged", e)[0]["details"]
        assert purged["sha256"] == shas[e] and purged["category"] == "withdrawn"
        assert file_status(client, w, e)["retention"]["state"] == "destroyed"
        assert client.get(f"/api/v1/evidence/{e}/content", headers=sup).status_code == 410
        assert client.get(f"/api/v1/evidence/{e}/thumbnail", headers=sup).status_code == 410
    assert_kept(client, settings, other)
    assert poster(settings, shas[other]).exists()

    # The witness's details went with the last file; the log itself only grew.
    assert len(events(client, "witness.details_erased", w.id)) == 1
    sub = submission(client, w.id)
    assert sub.contact_encrypted is None and sub.incident_place is None
    assert sub.incident_description is None
    assert client.get(f"/api/v1/evidence/{ev1}/contact", headers=sup).status_code == 404
    after = events(client)
    assert after[: len(before)] == before and len(after) > len(before)
    assert next(e for e in after if e["subject"] in (ev1, ev2))["type"] == "evidence.received"

    # A second run changes nothing.
    size = log_size(client)
    assert run(client) == RunReport()
    assert log_size(client) == size
    assert len(events(client, "evidence.purged", ev1)) == 1


def test_withdrawal_grace_is_a_setting(tmp_path: Path, clip: bytes) -> None:
    settings = Settings(data_dir=tmp_path / "d", withdrawal_grace=timedelta(days=2))
    with TestClient(create_app(settings)) as client:
        clock = Clock(T0)
        runtime(client).clock = clock
        w = new_witness(client)
        ev = send(client, w, varied(clip, "grace"))
        assert withdraw(client, w).status_code == 200
        assert until_of(client, ev) == T0 + 2 * DAY
        clock.now = T0 + 2 * DAY
        assert run(client).destroyed == [ev]
        assert_destroyed(client, settings, ev)


def test_withdrawn_item_under_a_hold_is_kept_until_the_hold_is_released(
    client: TestClient, settings: Settings, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    w = new_witness(client)
    ev = send(client, w, varied(clip, "heldwithdrawn"))
    hold_id = hold(client, sup, ev)
    clock.now = T0 + 1 * DAY
    r = withdraw(client, w)
    assert r.status_code == 200, r.text
    assert events(client, "consent.withdrawn", w.id) != []
    status = file_status(client, w, ev)["retention"]
    assert (status["state"], status["reason"]) == ("held", "kept under legal hold")

    clock.now = T0 + 60 * DAY
    assert run(client).destroyed == []
    assert_kept(client, settings, ev)
    assert submission(client, w.id).contact_encrypted is not None

    assert release(client, sup, hold_id).status_code == 200
    status = file_status(client, w, ev)["retention"]
    assert status["state"] == "scheduled"
    assert run(client).destroyed == [ev]
    assert_destroyed(client, settings, ev)
    assert submission(client, w.id).contact_encrypted is None
    assert len(events(client, "witness.details_erased", w.id)) == 1


def test_withdrawn_item_in_an_open_case_is_kept_until_unlinked(
    client: TestClient, settings: Settings, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    w = new_witness(client)
    ev = send(client, w, varied(clip, "incase"))
    case = new_case(client, sup)
    link(client, sup, case, ev)
    clock.now = T0 + 1 * DAY
    assert withdraw(client, w).status_code == 200
    status = file_status(client, w, ev)["retention"]
    assert (status["state"], status["reason"]) == (
        "needed_by_case",
        "needed by a case investigation",
    )
    assert item(client, ev).retention_category == "case-open"

    clock.now = T0 + 60 * DAY
    assert run(client).destroyed == []
    assert_kept(client, settings, ev)

    unlink(client, sup, case, ev)
    assert item(client, ev).retention_category == "withdrawn"
    assert until_of(client, ev) == T0 + 1 * DAY + GRACE
    assert file_status(client, w, ev)["retention"]["state"] == "scheduled"
    assert run(client).destroyed == [ev]
    assert_destroyed(client, settings, ev)


# --- approvals ---------------------------------------------------------------------------------


def test_one_supervisor_approves_a_no_case_item(
    client: TestClient,
    settings: Settings,
    clock: Clock,
    sup: dict[str, str],
    inv: dict[str, str],
    clip: bytes,
) -> None:
    ev = send(client, new_witness(client), varied(clip, "nocase"))
    free = send(client, new_witness(client), varied(clip, "free"))
    triage(client, sup, ev, "accept")
    assert approve(client, sup, ev).json()["error"] == "not_due"

    clock.now = T0 + 731 * DAY
    report = run(client)
    assert report.awaiting_approval == [ev] and report.destroyed == [free]
    due = client.get("/api/v1/retention/due", headers=sup).json()
    assert [(d["evidence_id"], d["approvals_required"], d["ready"]) for d in due] == [
        (ev, 1, False)
    ]
    assert approve(client, inv, ev).status_code == 403
    r = approve(client, sup, ev)
    assert r.status_code == 200, r.text
    assert r.json()["ready"] is True and r.json()["approvers"] == [staff_id(client, "sara")]
    assert events(client, "disposition.approved", ev)[0]["details"] == {
        "category": "no-case",
        "approvals": 1,
        "required": 1,
    }
    assert approve(client, sup, ev).status_code == 409

    dry = run(client, dry_run=True)
    assert dry.would_destroy == [ev] and dry.destroyed == []
    assert_kept(client, settings, ev)
    assert run(client).destroyed == [ev]
    assert_destroyed(client, settings, ev)
    stone = tombstone(client, ev)
    assert stone is not None and stone.approvers == [staff_id(client, "sara")]
    assert stone.category == "no-case"
    assert events(client, "evidence.purged", ev)[0]["details"]["approvers"] == stone.approvers
    gone = approve(client, sup, free)
    assert gone.status_code == 409 and gone.json()["error"] == "not_due"


@pytest.mark.parametrize("offense", ["felony", "homicide"])
def test_felony_and_homicide_need_two_different_supervisors(
    client: TestClient,
    settings: Settings,
    clock: Clock,
    sup: dict[str, str],
    sup2: dict[str, str],
    offense: str,
    clip: bytes,
) -> None:
    if offense == "homicide":
        # Indefinite by default; a policy with a date lets it come due.
        body = {"keep_days": 30, "trigger": "case_closure", "approvals_required": 2}
        put_policy(client, sup, "homicide", body, confirmer=sup2)
    ev = send(client, new_witness(client), varied(clip, offense))
    case = new_case(client, sup, offense=offense)
    link(client, sup, case, ev)
    close(client, sup, case)
    category = "case-closed-felony" if offense == "felony" else "homicide"
    assert item(client, ev).retention_category == category
    until = until_of(client, ev)
    assert until == T0 + (10 * YEAR if offense == "felony" else 30 * DAY)

    clock.now = until
    first = approve(client, sup, ev)
    assert first.status_code == 200, first.text
    assert first.json()["ready"] is False and first.json()["approvals_required"] == 2
    same = approve(client, sup, ev)
    assert same.status_code == 409 and same.json()["error"] == "already_approved"
    assert run(client).awaiting_approval == [ev]
    assert_kept(client, settings, ev)

    second = approve(client, sup2, ev)
    assert second.status_code == 200 and second.json()["ready"] is True
    assert [e["details"]["approvals"] for e in events(client, "disposition.approved", ev)] == [
        1,
        2,
    ]
    assert run(client).destroyed == [ev]
    assert_destroyed(client, settings, ev)
    stone = tombstone(client, ev)
    assert stone is not None and stone.category == category
    assert sorted(stone.approvers) == sorted([staff_id(client, "sara"), staff_id(client, "sven")])


def test_an_override_does_not_waive_the_approvals_of_the_items_category(
    client: TestClient,
    settings: Settings,
    clock: Clock,
    sup: dict[str, str],
    clip: bytes,
) -> None:
    """Keeping a felony item *longer* must not let it be destroyed with no approval at all."""
    ev = send(client, new_witness(client), varied(clip, "override"))
    case = new_case(client, sup, offense="felony")
    link(client, sup, case, ev)
    close(client, sup, case)
    later = T0 + 11 * YEAR
    r = client.put(
        f"/api/v1/evidence/{ev}/retention",
        json={"until": later.isoformat(), "reason": "appeal pending"},
        headers=sup,
    )
    assert r.status_code == 200, r.text
    assert until_of(client, ev) == later

    clock.now = later + DAY
    due = client.get("/api/v1/retention/due", headers=sup).json()
    assert [d["approvals_required"] for d in due] == [2]
    report = run(client)
    assert report.destroyed == [] and report.awaiting_approval == [ev]
    assert_kept(client, settings, ev)


# --- due and forecast --------------------------------------------------------------------------


def test_due_and_forecast(
    client: TestClient, clock: Clock, sup: dict[str, str], inv: dict[str, str], clip: bytes
) -> None:
    soon = send(client, new_witness(client), varied(clip, "soon"))
    clock.now = T0 + 1 * DAY
    declined = send(client, new_witness(client), varied(clip, "declined"))
    triage(client, sup, declined, "decline")
    in_case = send(client, new_witness(client), varied(clip, "case"))
    link(client, sup, new_case(client, sup), in_case)

    def forecast(days: int) -> list[tuple[str, str]]:
        r = client.get(f"/api/v1/retention/forecast?days={days}", headers=sup)
        assert r.status_code == 200, r.text
        return [(f["evidence_id"], f["category"]) for f in r.json()]

    assert forecast(30) == []
    assert forecast(100) == [(declined, "declined")]
    assert forecast(400) == [(declined, "declined"), (soon, "unreviewed")]
    assert client.get("/api/v1/retention/forecast?days=0", headers=sup).status_code == 422
    assert client.get("/api/v1/retention/forecast", headers=inv).status_code == 403
    assert client.get("/api/v1/retention/due", headers=inv).status_code == 403

    clock.now = T0 + 366 * DAY
    due = client.get("/api/v1/retention/due", headers=sup).json()
    assert [(d["evidence_id"], d["approvals_required"], d["ready"]) for d in due] == [
        (declined, 0, True),
        (soon, 0, True),
    ]
    assert due[1]["sha256"] == item(client, soon).sha256
    assert parse(due[1]["retain_until"]) == T0 + 365 * DAY


# --- the same file from two witnesses ----------------------------------------------------------


def test_destroying_one_item_keeps_an_object_another_item_shares(
    client: TestClient, settings: Settings, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    data = varied(clip, "shared")
    sha = hashlib.sha256(data).hexdigest()
    w1, w2 = new_witness(client), new_witness(client)
    ev1, ev2 = send(client, w1, data), send(client, w2, data)
    assert item(client, ev1).storage_key == item(client, ev2).storage_key
    key = item(client, ev1).storage_key

    # Holds on both; releasing one keeps the stored object held for the other.
    h1, h2 = hold(client, sup, ev1), hold(client, sup, ev2)
    assert release(client, sup, h1).status_code == 200
    with pytest.raises(ObjectLocked):
        runtime(client).storage.delete(key, bypass_governance=True)
    assert release(client, sup, h2).status_code == 200

    clock.now = T0 + 1 * DAY
    assert withdraw(client, w1).status_code == 200
    clock.now = T0 + 1 * DAY + GRACE
    assert run(client).destroyed == [ev1]
    assert item(client, ev1).disposition == "purged" and tombstone(client, ev1) is not None
    assert events(client, "evidence.purged", ev1)[0]["details"]["object_kept_for"] == ev2
    assert original(settings, sha).exists() and poster(settings, sha).exists()
    r = client.get(f"/api/v1/evidence/{ev2}/content?download=1", headers=sup)
    assert r.status_code == 200 and r.content == data
    assert client.get(f"/api/v1/evidence/{ev2}/thumbnail", headers=sup).status_code == 200
    assert client.get(f"/api/v1/evidence/{ev1}/content", headers=sup).status_code == 410
    assert submission(client, w1.id).contact_encrypted is None
    assert submission(client, w2.id).contact_encrypted is not None

    clock.now = T0 + 20 * DAY
    assert withdraw(client, w2).status_code == 200
    clock.now = T0 + 20 * DAY + GRACE
    assert run(client).destroyed == [ev2]
    assert_destroyed(client, settings, ev2)
    assert len(events(client, "evidence.purged", ev1)) == 1


def test_a_shared_objects_storage_lock_is_never_shortened(
    client: TestClient, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    """The second copy's shorter date must not weaken the lock the first item set."""
    data = varied(clip, "sharedlock")
    ev1 = send(client, new_witness(client), data)
    case = new_case(client, sup, offense="misdemeanor")
    link(client, sup, case, ev1)
    close(client, sup, case)
    assert until_of(client, ev1) == T0 + 3 * YEAR

    clock.now = T0 + 1 * DAY
    ev2 = send(client, new_witness(client), data)
    assert until_of(client, ev2) == T0 + 1 * DAY + YEAR

    clock.now = T0 + 2 * YEAR
    with pytest.raises(ObjectLocked):
        runtime(client).storage.delete(item(client, ev1).storage_key)


def test_the_last_user_of_a_shared_object_is_destroyed_when_due(
    client: TestClient, settings: Settings, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    """The other copy once locked the object longer, then was unlinked and destroyed first:
    the object's lock is that copy's, and the last item's own due date must still win."""
    data = varied(clip, "sharedlast")
    first = send(client, new_witness(client), data)
    clock.now = T0 + 10 * DAY
    last = send(client, new_witness(client), data)
    clock.now = T0 + 40 * DAY
    case = new_case(client, sup, offense="misdemeanor")
    link(client, sup, case, first)
    close(client, sup, case)
    clock.now = T0 + 41 * DAY
    unlink(client, sup, case, first)
    assert until_of(client, first) == T0 + YEAR
    assert until_of(client, last) == T0 + 10 * DAY + YEAR

    clock.now = T0 + 400 * DAY
    report = run(client)
    assert report.locked == []
    assert sorted(report.destroyed) == sorted([first, last])
    assert_destroyed(client, settings, first)
    assert_destroyed(client, settings, last)


# --- crash safety ------------------------------------------------------------------------------


@pytest.mark.parametrize("crash", ["before-delete", "after-delete", "at-log-append"])
def test_a_crash_mid_destruction_is_finished_by_the_next_run(
    client: TestClient,
    settings: Settings,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    crash: str,
    clip: bytes,
) -> None:
    ev = send(client, new_witness(client), varied(clip, crash))
    sha = item(client, ev).sha256
    rt = runtime(client)
    crashed: list[str] = []

    if crash == "at-log-append":
        real_append = custody.append

        def append(session: Any, **kw: Any) -> Any:
            if kw["type"] == EventType.EVIDENCE_PURGED and not crashed:
                crashed.append(kw["subject"])
                raise RuntimeError("power cut")
            return real_append(session, **kw)

        monkeypatch.setattr(custody, "append", append)
    else:
        real_delete = rt.storage.delete

        def delete(key: str, *, bypass_governance: bool = False) -> None:
            if crashed:
                real_delete(key, bypass_governance=bypass_governance)
                return
            crashed.append(key)
            if crash == "before-delete":
                raise StorageUnavailable("storage went away")
            real_delete(key, bypass_governance=bypass_governance)
            raise RuntimeError("power cut")

        monkeypatch.setattr(rt.storage, "delete", delete)

    clock.now = T0 + 366 * DAY
    with pytest.raises((RuntimeError, StorageUnavailable)):
        run(client)
    assert crashed
    assert item(client, ev).disposition == "purging"
    assert tombstone(client, ev) is None
    assert events(client, "evidence.purged", ev) == []
    assert original(settings, sha).exists() == (crash == "before-delete")

    report = run(client)
    assert report.destroyed == [ev]
    assert_destroyed(client, settings, ev)
    assert run(client) == RunReport()
    assert len(events(client, "evidence.purged", ev)) == 1


# --- time travel -------------------------------------------------------------------------------


def test_as_of_judges_due_dates_but_storage_keeps_its_own_clock(
    client: TestClient, settings: Settings, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    ev = send(client, new_witness(client), varied(clip, "asof"))
    clock.now = T0 + 10 * DAY
    assert run(client, as_of=T0 + 364 * DAY, dry_run=True) == RunReport()
    assert run(client, as_of=T0 + 365 * DAY, dry_run=True).would_destroy == [ev]
    assert_kept(client, settings, ev)
    # Storage still holds the lock by the real (runtime) clock: nothing is destroyed early.
    report = run(client, as_of=T0 + 400 * DAY)
    assert report.locked == [ev] and report.destroyed == []
    assert original(settings, item(client, ev).sha256).exists()
    assert tombstone(client, ev) is None and events(client, "evidence.purged", ev) == []

    clock.now = T0 + 365 * DAY
    assert run(client).destroyed == [ev]
    assert_destroyed(client, settings, ev)


def test_a_refused_storage_delete_leaves_the_item_under_its_rules(
    client: TestClient, settings: Settings, clock: Clock, sup: dict[str, str], clip: bytes
) -> None:
    """A run that storage refuses must not leave the item 'purging', where it no longer
    follows case links, and is finished later whatever happened in between."""
    ev = send(client, new_witness(client), varied(clip, "refused"))
    clock.now = T0 + 10 * DAY
    assert run(client, as_of=T0 + 400 * DAY).locked == [ev]

    case = new_case(client, sup)
    link(client, sup, case, ev)
    assert item(client, ev).retention_category == "case-open"
    clock.now = T0 + 400 * DAY
    run(client)
    assert_kept(client, settings, ev)


# --- the command line --------------------------------------------------------------------------


def test_cli_retention_run(tmp_path: Path, clip: bytes) -> None:
    settings = Settings(data_dir=tmp_path / "cli")
    now = utcnow()
    with TestClient(create_app(settings)) as client:
        clock = Clock(now - 400 * DAY)
        runtime(client).clock = clock
        due = send(client, new_witness(client), varied(clip, "cli-due"))
        clock.now = now - 100 * DAY
        later = send(client, new_witness(client), varied(clip, "cli-later"))
        due_at, later_at = until_of(client, due), until_of(client, later)
        shas = {e: item(client, e).sha256 for e in (due, later)}
    assert due_at == now - 35 * DAY and later_at == now + 265 * DAY
    runner = CliRunner()
    data_dir = str(settings.data_dir)

    def cli(*args: str) -> str:
        r = runner.invoke(cli_app, ["retention", "run", "--data-dir", data_dir, *args])
        assert r.exit_code == 0, r.output
        return r.output

    def stamp(at: datetime) -> str:
        return at.strftime("%Y-%m-%dT%H:%M:%S")

    out = cli("--dry-run", "--as-of", stamp(now - 50 * DAY))
    assert "0 destroyed, 0 would be" in out and due not in out
    out = cli("--dry-run")
    assert "0 destroyed, 1 would be" in out and due in out and later not in out
    assert original(settings, shas[due]).exists()

    out = cli("--as-of", stamp(now - 30 * DAY))
    assert "1 destroyed" in out and due in out
    assert not original(settings, shas[due]).exists()
    assert not poster(settings, shas[due]).exists()
    out = cli()
    assert "0 destroyed" in out

    # Judged a year ahead, the later item is due, but storage still keeps it.
    out = cli("--as-of", stamp(now + YEAR))
    assert "0 destroyed" in out and "1 locked" in out and later in out
    assert original(settings, shas[later]).exists()

    with TestClient(create_app(settings)) as client:
        assert item(client, due).disposition == "purged"
        assert tombstone(client, due) is not None
        assert len(events(client, "evidence.purged", due)) == 1
        assert tombstone(client, later) is None


def test_cli_as_of_with_an_offset_is_the_same_instant(tmp_path: Path, clip: bytes) -> None:
    settings = Settings(data_dir=tmp_path / "cli")
    now = utcnow().replace(microsecond=0)
    with TestClient(create_app(settings)) as client:
        runtime(client).clock = Clock(now - 400 * DAY)
        ev = send(client, new_witness(client), varied(clip, "offset"))
    due_at = now - 35 * DAY
    # One hour before it is due, written in Madrid summer time (+02:00).
    before = (due_at - timedelta(hours=1)).astimezone(timezone(timedelta(hours=2)))
    r = CliRunner().invoke(
        cli_app,
        [
            "retention",
            "run",
            "--dry-run",
            "--data-dir",
            str(settings.data_dir),
            "--as-of",
            before.isoformat(),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "0 would be" in r.output and ev not in r.output
