"""The auditor's access report: exactly the log's entries for a staff member or an item in a
period, with log indices and leaf hashes, flagged when unusual, as a page, CSV and PDF."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portal.config import Settings
from portal.custody import service as custody
from portal.web.catalogue import CATALOGUE
from tests.support.api import CONTACT, PASSWORD, runtime, staff_login
from tests.support.custody import events, log_size, of_type
from tests.support.evidence import png, received
from tests.support.retention import Clock
from tests.support.web import csrf_of, web_app

pytestmark = pytest.mark.both_backends
HTTPS = "https://testserver"
# A Monday, 10:00 in Ciudad Juárez (UTC-7): working hours.
MONDAY_10 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
# The same day at 19:30 there: outside them (08:00-19:00).
MONDAY_1930 = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
PERIOD = {"from": "2026-03-01", "to": "2026-03-03"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "audit_bulk_downloads": 1,
            "audit_bulk_window": timedelta(days=1),
            "session_ttl": timedelta(days=2),
            "second_factor_roles": "",
        }
    )


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


def signed_in(web: TestClient, role: str, name: str) -> TestClient:
    staff_login(web, role, name=name)
    browser = TestClient(web.app, base_url=HTTPS)
    csrf = csrf_of(browser, "/web/staff/login")
    r = browser.post(
        "/web/staff/login",
        data={"csrf": csrf, "username": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return browser


def rows(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def logged_for(web: TestClient, actor_prefix: str) -> list[dict[str, Any]]:
    """The log's own entries by this staff member in the period, read without the report."""
    start, end = datetime(2026, 3, 1, 7, tzinfo=UTC), datetime(2026, 3, 4, 7, tzinfo=UTC)
    return [
        e
        for e in events(web)
        if e["actor"].startswith(actor_prefix)
        and start <= datetime.fromisoformat(e["at"].replace("Z", "+00:00")) < end
    ]


def activity(web: TestClient) -> tuple[str, str, str]:
    """An investigator views and downloads an item twice (once late), a supervisor looks at
    the witness's contact; returns (investigator id, supervisor id, item id)."""
    clock = Clock(MONDAY_10)
    runtime(web).clock = clock
    ines = staff_login(web, "investigator", name="ines")
    sara = staff_login(web, "supervisor", name="sara")
    item = received(web, png(), name="balcony.png", contact=CONTACT).id
    assert web.get(f"/api/v1/evidence/{item}", headers=ines).status_code == 200
    assert web.get(f"/api/v1/evidence/{item}/content?download=1", headers=ines).status_code == 200
    assert web.get(f"/api/v1/evidence/{item}/contact", headers=sara).status_code == 200
    clock.now = MONDAY_1930
    assert web.get(f"/api/v1/evidence/{item}/content?download=1", headers=ines).status_code == 200
    runtime(web).sign_checkpoint()
    ids = {e["details"]["name"]: e["subject"] for e in of_type(web, "staff.created")}
    return ids["ines"], ids["sara"], item


def test_a_staff_report_lists_exactly_the_logs_entries_for_them(web: TestClient) -> None:
    auditor = signed_in(web, "auditor", "olga")
    ines_id, _, _ = activity(web)
    r = auditor.get("/web/staff/audit", params={"staff": "ines", **PERIOD, "format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    got = rows(r.text)
    expected = logged_for(web, f"staff:{ines_id}:")
    assert [int(g["seq"]) for g in got] == [e["seq"] for e in expected]
    assert [g["event"] for g in got] == [e["type"] for e in expected]
    assert {"staff.login", "evidence.viewed", "evidence.downloaded"} <= {g["event"] for g in got}
    with runtime(web).sessions() as db:
        for g in got:
            assert custody.entry(db, seq=int(g["seq"])).leaf_hash.hex() == g["leaf_hash"]
    downloads = [g for g in got if g["event"] == "evidence.downloaded"]
    assert all("descarga masiva" in g["flags"] for g in downloads), "2 > 1 within a day"
    assert ["fuera de horario" in g["flags"] for g in downloads] == [False, True]
    # The signed checkpoint heads the file, and how to prove a line against it.
    with runtime(web).sessions() as db:
        checkpoint = custody.latest_checkpoint(db)
    assert checkpoint is not None and checkpoint.size > max(int(g["seq"]) for g in got)
    assert f"# {checkpoint.note.splitlines()[0]}" in r.text
    assert f"tree_size={checkpoint.size}" in r.text
    # The read is on the record, after the lines it returned.
    (read,) = of_type(web, "log.access_report_read")
    assert read["subject"] == ines_id and read["details"]["lines"] == len(got)
    assert read["details"]["format"] == "csv"


def test_an_item_report_names_every_touch_and_flags_contact_views(web: TestClient) -> None:
    auditor = signed_in(web, "auditor", "olga")
    _, _, item = activity(web)
    page = auditor.get("/web/staff/audit", params={"item": item, **PERIOD, "lang": "en"})
    assert page.status_code == 200, page.text
    assert "Access report" in page.text and "witness contact" in page.text
    touching = [
        e
        for e in events(web)
        if e["subject"] == item or e["details"].get("evidence") == item
        if e["type"] != "log.access_report_read"
    ]
    for e in touching:
        assert f'data-seq="{e["seq"]}"' in page.text
    spanish = auditor.get("/web/staff/audit", params={"item": item, **PERIOD, "lang": "es"})
    assert "Informe de acceso" in spanish.text and "contacto del testigo" in spanish.text
    pdf = auditor.get("/web/staff/audit", params={"item": item, **PERIOD, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"staff": "ines", "item": "0" * 32}, 422, "both_subjects"),
        ({"staff": "nobody"}, 404, "not_found"),
        ({"item": "not-an-id"}, 422, "bad_item"),
        ({"staff": "ines", "from": "2026-13-01"}, 422, "bad_date"),
        ({"staff": "ines", "from": "2026-03-05", "to": "2026-03-01"}, 422, "bad_period"),
        ({"staff": "ines", "from": "2020-01-01", "to": "2026-03-01"}, 422, "bad_period"),
        ({"format": "csv"}, 422, "no_subject"),
        ({"staff": "ines", "format": "xls"}, 422, None),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    web: TestClient, params: dict[str, str], status: int, code: str | None
) -> None:
    auditor = signed_in(web, "auditor", "olga")
    staff_login(web, "investigator", name="ines")
    before = log_size(web)
    r = auditor.get("/web/staff/audit", params=params)
    assert r.status_code == status, r.text
    if code is not None and code != "not_found":
        assert html.escape(CATALOGUE["error." + code]["es"], quote=False) in r.text
    assert log_size(web) == before


def test_only_auditors_may_read_reports(web: TestClient) -> None:
    investigator = signed_in(web, "investigator", "ines")
    before = log_size(web)
    assert investigator.get("/web/staff/audit", params={"staff": "ines"}).status_code == 403
    assert log_size(web) == before
