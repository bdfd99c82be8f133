"""Property: over random schedules of triage, cases, holds, withdrawals and approvals, a
retention run destroys exactly what is due, unheld and sufficiently approved, and nothing else.

Each example builds a fresh portal in its own temporary folder, computes what every item's
retain-until should be from the rules (an oracle written from docs/retention.md's table,
independent of portal/retention), moves the runtime's clock (which the local storage judges
locks by) to a random time up to 15 years later, approves at random and runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from portal.app import create_app
from portal.config import Settings
from portal.submissions.models import Submission
from tests.support.api import runtime, staff_login
from tests.support.media import make_video
from tests.support.retention import (
    Clock,
    Witness,
    approve,
    close,
    events,
    hold,
    item,
    link,
    new_case,
    new_witness,
    original,
    release,
    send,
    tombstone,
    triage,
    unlink,
    until_of,
    withdraw,
)

# A failing example makes Hypothesis's pytest plugin import libcst (for its patch hint), and
# that import warns; with `filterwarnings = error` the warning would become an INTERNALERROR
# hiding the falsifying example. Import it first, quietly.
with contextlib.suppress(ImportError), warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import libcst  # noqa: F401

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
YEAR_MINUTES = 365 * 24 * 60
GRACE = timedelta(days=7)
OFFENSES = ("misdemeanor", "felony", "homicide")
# category: (days or None for indefinitely, approvals): the table in docs/retention.md.
RULES: dict[str, tuple[int | None, int]] = {
    "unreviewed": (365, 0),
    "declined": (90, 0),
    "no-case": (730, 1),
    "case-open": (None, 1),
    "case-closed-misdemeanor": (3 * 365, 1),
    "case-closed-felony": (10 * 365, 2),
    "homicide": (None, 2),
    "withdrawn": (7, 0),
}
# Repeats weight the draw: triage and cases are what make approvals matter.
KINDS = (
    *("accept", "accept", "accept", "decline"),
    *("link", "link", "link", "unlink", "close", "close", "reopen"),
    *("hold", "release", "release", "withdraw"),
)


@pytest.fixture(scope="session")
def small_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once; each item appends its own bytes (MP4 sniffing reads only the head)."""
    return make_video(tmp_path_factory.mktemp("prop") / "clip.mp4", seconds=0.5, size="64x64")


# --- schedules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    witness: int
    same_bytes_as: int | None  # an earlier item: the same file sent again (one stored object)
    minute: int


@dataclass(frozen=True)
class Action:
    minute: int
    kind: str
    a: int
    b: int


@dataclass(frozen=True)
class Schedule:
    witnesses: int
    uploads: list[Upload]
    cases: list[str]
    actions: list[Action]
    as_of_minutes: int
    approvals: list[list[int]]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    n = draw(st.integers(1, 5))
    witnesses = draw(st.integers(1, n))
    uploads = [
        Upload(
            witness=draw(st.integers(0, witnesses - 1)),
            same_bytes_as=draw(st.none() | st.integers(0, i - 1)) if i else None,
            minute=draw(st.integers(0, 30 * 24 * 60)),
        )
        for i in range(n)
    ]
    cases = draw(st.lists(st.sampled_from(OFFENSES), min_size=1, max_size=3))
    actions = draw(
        st.lists(
            st.builds(
                Action,
                # sampled_from spreads evenly; integers() would crowd the low end.
                minute=st.sampled_from(range(31 * 24 * 60, 3 * YEAR_MINUTES, 7)),
                kind=st.sampled_from(KINDS),
                a=st.integers(0, 10),
                b=st.integers(0, 10),
            ),
            max_size=16,
        )
    )
    as_of = draw(st.sampled_from(range(16))) * YEAR_MINUTES + draw(st.integers(0, YEAR_MINUTES))
    approvals = [draw(st.lists(st.integers(0, 1), max_size=2)) for _ in range(n)]
    return Schedule(witnesses, uploads, cases, actions, as_of, approvals)


# --- the oracle ----------------------------------------------------------------------------------


@dataclass
class CaseModel:
    id: str
    offense: str
    closed_at: datetime | None = None


@dataclass
class ItemModel:
    id: str
    witness: int
    received_at: datetime
    key: str
    status: str = "new"
    triaged_at: datetime | None = None
    cases: list[str] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)


def expected(
    it: ItemModel, cases: dict[str, CaseModel], withdrawn_at: datetime | None
) -> tuple[datetime | None, set[str]]:
    """The retain-until the rules give (None: indefinitely) and the categories that may
    decide it (several only when more than one rule keeps it indefinitely)."""
    found: list[tuple[datetime | None, str]] = []
    for case_id in it.cases:
        case = cases[case_id]
        if case.offense == "homicide":
            found.append((None, "homicide"))
        elif case.closed_at is None:
            found.append((None, "case-open"))
        else:
            category = f"case-closed-{case.offense}"
            days = RULES[category][0]
            assert days is not None
            found.append((case.closed_at + timedelta(days=days), category))
    if not found:
        if withdrawn_at is not None:
            return withdrawn_at + GRACE, {"withdrawn"}
        category = {"new": "unreviewed", "declined": "declined"}.get(it.status, "no-case")
        start = it.received_at if category == "unreviewed" else it.triaged_at
        days = RULES[category][0]
        assert start is not None and days is not None
        return start + timedelta(days=days), {category}
    indefinite = {category for until, category in found if until is None}
    if indefinite:
        return None, indefinite
    dated = [(until, category) for until, category in found if until is not None]
    latest = max(until for until, _ in dated)
    return latest, {category for until, category in dated if until == latest}


# --- the property --------------------------------------------------------------------------------


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=schedules())
def test_a_run_destroys_exactly_what_is_due_unheld_and_approved(
    small_clip: Path, plan: Schedule
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", session_ttl=timedelta(days=40 * 365))
        with TestClient(create_app(settings)) as client:
            check(client, settings, small_clip.read_bytes(), plan)


def check(client: TestClient, settings: Settings, clip: bytes, plan: Schedule) -> None:
    clock = Clock(T0 - MINUTE)
    runtime(client).clock = clock
    supervisors = [
        staff_login(client, "supervisor", name="sara"),
        staff_login(client, "supervisor", name="sven"),
    ]
    sup = supervisors[0]
    witnesses: list[Witness] = [new_witness(client) for _ in range(plan.witnesses)]
    withdrawn: dict[int, datetime] = {}

    # Uploads first (nothing can be added after a withdrawal), in time order.
    items: list[ItemModel] = []
    datas: list[bytes] = []
    order = sorted(range(len(plan.uploads)), key=lambda i: (plan.uploads[i].minute, i))
    for step, i in enumerate(order):
        up = plan.uploads[i]
        source = up.same_bytes_as
        data = datas[source] if source is not None and source < len(datas) else clip + b"%d" % i
        clock.now = T0 + up.minute * MINUTE + step * timedelta(seconds=1)
        ev = send(client, witnesses[up.witness], data, name=f"clip{len(items)}.mp4")
        datas.append(data)
        sha = hashlib.sha256(data).hexdigest()
        items.append(ItemModel(ev, up.witness, clock.now, f"sha256/{sha}"))
    made = [CaseModel(new_case(client, sup, offense=offense), offense) for offense in plan.cases]
    cases = {case.id: case for case in made}
    case_ids = list(cases)

    # Actions in time order; those that make no sense at that point are skipped.
    actions = sorted(plan.actions, key=lambda a: a.minute)
    for step, action in enumerate(actions):
        clock.now = T0 + action.minute * MINUTE + step * timedelta(seconds=1)
        it = items[action.a % len(items)]
        kind = action.kind
        if kind in ("accept", "decline"):
            triage(client, sup, it.id, kind)
            it.status = "accepted" if kind == "accept" else "declined"
            it.triaged_at = clock.now
        elif kind in ("link", "unlink", "close", "reopen") and case_ids:
            case = cases[case_ids[action.b % len(case_ids)]]
            if kind == "link" and case.id not in it.cases:
                link(client, sup, case.id, it.id)
                it.cases.append(case.id)
            elif kind == "unlink" and case.id in it.cases:
                unlink(client, sup, case.id, it.id)
                it.cases.remove(case.id)
            elif kind == "close" and case.closed_at is None:
                offense = (None, *OFFENSES)[action.b % 4]
                close(client, sup, case.id, offense, confirmer=supervisors[1])
                case.offense, case.closed_at = offense or case.offense, clock.now
            elif kind == "reopen" and case.closed_at is not None:
                r = client.post(f"/api/v1/cases/{case.id}/reopen", headers=sup)
                assert r.status_code == 200, r.text
                case.closed_at = None
        elif kind == "hold":
            it.holds.append(hold(client, sup, it.id))
        elif kind == "release" and it.holds:
            assert release(client, sup, it.holds.pop(0)).status_code == 200
        elif kind == "withdraw" and it.witness not in withdrawn:
            assert withdraw(client, witnesses[it.witness]).status_code == 200
            withdrawn[it.witness] = clock.now

    # Every item's date is what the rules say.
    start = clock.now
    as_of = start + plan.as_of_minutes * MINUTE
    clock.now = as_of
    dates: dict[str, datetime | None] = {}
    required: dict[str, int] = {}
    for it in items:
        until, categories = expected(it, cases, withdrawn.get(it.witness))
        assert until_of(client, it.id) == until, it
        category = item(client, it.id).retention_category
        assert category in categories, (category, categories)
        dates[it.id], required[it.id] = until, RULES[str(category)][1]

    def due(it: ItemModel) -> bool:
        until = dates[it.id]
        return until is not None and until <= as_of and not it.holds

    # Approvals: accepted exactly when the item is due, needs them, and the supervisor is new.
    approvers: dict[str, set[int]] = {it.id: set() for it in items}
    for it, who in zip(items, plan.approvals, strict=True):
        for s in who:
            r = approve(client, supervisors[s], it.id)
            ok = due(it) and required[it.id] > 0 and s not in approvers[it.id]
            assert r.status_code == (200 if ok else 409), (r.text, it, dates[it.id], as_of)
            if ok:
                approvers[it.id].add(s)

    def ready(it: ItemModel) -> bool:
        return len(approvers[it.id]) >= required[it.id]

    report = runtime(client).run_retention()
    doomed = {it.id for it in items if due(it) and ready(it)}
    assert set(report.destroyed) == doomed, (report, items, dates, as_of)
    assert set(report.awaiting_approval) == {it.id for it in items if due(it)} - doomed
    assert report.locked == []

    for it in items:
        row = item(client, it.id)
        if it.id in doomed:
            assert row.disposition == "purged"
            stone = tombstone(client, it.id)
            assert stone is not None and stone.sha256 == row.sha256
            assert len(stone.approvers) == len(approvers[it.id])
            assert len(events(client, "evidence.purged", it.id)) == 1
        else:
            assert row.disposition is None, (it, dates[it.id], as_of)
            assert tombstone(client, it.id) is None
            assert events(client, "evidence.purged", it.id) == []
        # The stored object goes with the last item that uses it.
        users = [other for other in items if other.key == it.key]
        kept = any(other.id not in doomed for other in users)
        assert original(settings, row.sha256).exists() == kept, it

    # A withdrawn witness's details go with their last file, and only then.
    for index, w in enumerate(witnesses):
        mine = [it for it in items if it.witness == index]
        erased = index in withdrawn and all(it.id in doomed for it in mine)
        with runtime(client).sessions() as db:  # every session takes the write lock
            sub = db.get(Submission, w.id)
            assert sub is not None
            contact = sub.contact_encrypted
        assert (contact is None) == erased, (index, mine)
        assert len(events(client, "witness.details_erased", w.id)) == int(erased)
