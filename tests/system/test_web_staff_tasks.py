"""The staff tasks in Chromium on a desktop, in Spanish unless said: withdrawn consent seen and
kept only with a logged reason, each role's own first page, confirmations before destruction,
unlinking and closing, the court export from the case page, and no English, raw codes or
accessibility faults (axe-core) on any staff page."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.clock import utcnow
from portal.custody.models import LogEntry
from portal.evidence.models import Evidence
from tests.support.api import PASSWORD, new_submission
from tests.support.staff_pages import HEX_ID, axe_violations, english_in, visible_text
from tests.support.uploads import upload
from tests.support.web import DESKTOP, PHONE, LiveServer, PageProblems, screenshot


def receive(live: LiveServer, video: Path, name: str) -> tuple[str, str, str]:
    """(submission id, witness token, evidence id) of a video that arrived by the API."""
    with live.client() as http:
        sub_id, token = new_submission(
            http, incident={"place": "Av. Juárez", "description": "Disparos cerca del puente"}
        )
        upload(http, {"Authorization": f"Bearer {token}"}, video.read_bytes(), name=name)
    with live.runtime.sessions() as db:
        item = db.scalars(select(Evidence).where(Evidence.submission_id == sub_id)).one()
        return sub_id, token, item.id


def withdraw(live: LiveServer, sub_id: str, token: str) -> None:
    with live.client() as http:
        r = http.post(
            f"/api/v1/submissions/{sub_id}/withdrawal",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text


def events_of(live: LiveServer, type_: str, subject: str) -> list[dict[str, Any]]:
    with live.runtime.sessions() as db:
        rows = [json.loads(e.event) for e in db.scalars(select(LogEntry).order_by(LogEntry.seq))]
    return [e for e in rows if e["type"] == type_ and e["subject"] == subject]


def desktop(browser: Any, lang: str = "es") -> tuple[Any, Any, PageProblems]:
    context = browser.new_context(
        **DESKTOP, locale="es-MX" if lang == "es" else "en-US", bypass_csp=True
    )
    page = context.new_page()
    return context, page, PageProblems(page)


def log_in(page: Any, live: LiveServer, name: str) -> None:
    page.goto(live.url + "/web/staff/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()


def check_page(page: Any, name: str) -> str:
    """Screenshot, accessibility, and (Spanish) no English message or raw code: the text."""
    screenshot(page, name)
    assert axe_violations(page) == [], name
    text = visible_text(page)
    assert english_in(text) == [], name
    assert HEX_ID.findall(text) == [], name
    for code in ("evidence.", "consent.", "case-open", "no-case", "unreviewed", "prosecution"):
        assert code not in text, (name, code)
    return text


def test_withdrawn_consent_is_shown_and_kept_only_with_a_logged_reason(
    browser: Any, live: LiveServer, video: Path
) -> None:
    sub_id, token, ev = receive(live, video, "puente.mp4")
    withdraw(live, sub_id, token)
    live.add_staff("ines", "investigator")
    context, page, problems = desktop(browser)
    log_in(page, live, "ines")
    assert page.url.endswith("/web/staff/queue")  # the investigator's own page

    # Found by id: the withdrawal erased the file name.
    row = page.locator("tr", has=page.locator(f'a.item-link[href$="/{ev}"]'))
    assert "retirado" in row.locator("td.consent").inner_text()
    check_page(page, "staff-queue-withdrawn")

    row.locator("a.item-link").click()
    page.wait_for_url(f"**/web/staff/evidence/{ev}")
    state = page.locator("#consent-state").inner_text()
    assert "Retirado el" in state and "investigación" in state and "UTC-0" in state
    check_page(page, "staff-evidence-withdrawn")

    # Accepting without a reason is refused, in Spanish, and changes nothing.
    page.check("#d-accept")
    page.fill("#triage-reason", "se ve la placa")
    page.click("#triage-form button[type=submit]")
    page.wait_for_load_state()
    assert "indique el motivo para conservar" in page.locator(".alert").inner_text()
    check_page(page, "staff-withdrawn-refused")
    assert events_of(live, "evidence.triaged", ev) == []
    problems.messages.clear()  # the 409 above was the point

    page.goto(live.url + f"/web/staff/evidence/{ev}")
    page.check("#d-accept")
    page.fill("#triage-reason", "se ve la placa")
    page.fill("#triage-withdrawn-reason", "orden del fiscal 12/2026")
    page.click("#triage-form button[type=submit]")
    page.wait_for_url("**done=1**")
    [event] = events_of(live, "evidence.triaged", ev)
    assert event["details"]["consent_withdrawn_reason"] == "orden del fiscal 12/2026"
    assert "orden del fiscal 12/2026" in page.locator("#timeline").inner_text()
    assert problems.messages == []
    context.close()


def test_each_role_lands_on_its_own_page(browser: Any, live: LiveServer) -> None:
    homes = {
        "investigator": ("/web/staff/queue", "Bandeja de pruebas"),
        "supervisor": ("/web/staff/retention", "Destrucción pendiente"),
        "auditor": ("/web/staff/log", "Registro de custodia"),
        "admin": ("/web/staff/users", "Cuentas del personal"),
    }
    for role, (path, heading) in homes.items():
        live.add_staff(f"u-{role}", role)
        context, page, problems = desktop(browser)
        log_in(page, live, f"u-{role}")
        assert page.url.endswith(path), (role, page.url)
        assert page.locator("h1").inner_text() == heading
        check_page(page, f"staff-home-{role}")
        assert problems.messages == [], role
        if role == "investigator":  # a page the role may not open says so in Spanish
            response = page.goto(live.url + "/web/staff/retention")
            assert response is not None and response.status == 403
            assert "Su función no permite" in page.locator(".alert").inner_text()
            check_page(page, "staff-forbidden")
            assert page.locator("a.button").get_attribute("href") == "/web/staff/"
        context.close()


def test_supervisor_confirms_unlink_close_and_destruction_and_exports(
    browser: Any, live: LiveServer, video: Path
) -> None:
    _, _, ev = receive(live, video, "esquina.mp4")
    _, _, old = receive(live, video, "azotea.mp4")
    live.add_staff("sara", "supervisor")
    context, page, problems = desktop(browser)
    log_in(page, live, "sara")

    page.goto(live.url + "/web/staff/cases")
    check_page(page, "staff-cases")
    page.fill("#case-title", "Balacera en la avenida Juárez")
    page.fill("#case-ref", "CI-2026-118")
    page.click("#case-form button[type=submit]")
    page.wait_for_url("**/web/staff/cases/*")
    case_url = page.url
    assert page.locator("#case-status").inner_text() == "abierto"

    # Search the queue by file name (incident text is sealed: not searchable), then link
    # from the item page; the case by title.
    page.goto(live.url + "/web/staff/queue?q=puente")
    assert page.locator("a.item-link").count() == 0
    page.goto(live.url + "/web/staff/queue?q=esquina")
    assert page.locator("a.item-link", has_text="esquina.mp4").count() == 1
    page.goto(live.url + "/web/staff/queue?q=no-existe")
    assert page.locator("a.item-link").count() == 0
    page.goto(live.url + f"/web/staff/evidence/{ev}")
    page.select_option("#link-case", label="Balacera en la avenida Juárez (CI-2026-118)")
    page.click("#link-form button[type=submit]")
    page.wait_for_url("**done=1**")
    assert page.locator("a", has_text="Balacera en la avenida Juárez").count() >= 1
    check_page(page, "staff-evidence-linked")

    # The court export is a download from the case page.
    page.goto(case_url)
    check_page(page, "staff-case")
    with page.expect_download() as info:
        page.click("#export-form button[type=submit]")
    bundle = Path(info.value.path())
    with zipfile.ZipFile(bundle) as z:
        assert "manifest.json" in z.namelist()
        report = PdfReader(io.BytesIO(z.read("custody-report.pdf")))
    first = report.pages[0].extract_text()
    assert "Informe de cadena de custodia" in first and "delito grave" in first
    assert "Chain of custody" not in first
    case_id = case_url.rsplit("/", 1)[1]
    [exported] = events_of(live, "evidence.exported", case_id)
    assert [i["evidence"] for i in exported["details"]["items"]] == [ev]

    # Closing needs the box ticked: without it the case stays open.
    page.goto(case_url)
    csrf = page.locator("#close-form input[name=csrf]").input_value()
    refused = page.request.post(case_url + "/close", form={"csrf": csrf, "offense": "felony"})
    assert refused.status == 422 and "Marque la casilla" in refused.text()
    page.reload()
    assert page.locator("#case-status").inner_text() == "abierto"
    page.check("#close-confirm")
    page.click("#close-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#case-status").inner_text() == "cerrado"

    # Accepted without a case, the second item is due after its two years: the approval
    # list names the file and its date, and approving needs the box ticked.
    page.goto(live.url + f"/web/staff/evidence/{old}")
    page.check("#d-accept")
    page.fill("#triage-reason", "útil")
    page.click("#triage-form button[type=submit]")
    page.wait_for_url("**done=1**")
    later = utcnow() + timedelta(days=800)
    live.runtime.clock = lambda: later
    log_in(page, live, "sara")
    assert page.url.endswith("/web/staff/retention")
    row = page.locator("#due tr", has_text="azotea.mp4")
    assert "aceptada, sin caso" in row.inner_text() and "ninguno" in row.inner_text()
    check_page(page, "staff-retention")
    csrf = row.locator("input[name=csrf]").input_value()
    refused = page.request.post(
        live.url + f"/web/staff/retention/{old}/approve", form={"csrf": csrf}
    )
    assert refused.status == 422 and events_of(live, "disposition.approved", old) == []
    row.locator("input[name=confirm]").check()
    row.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert len(events_of(live, "disposition.approved", old)) == 1
    assert problems.messages == []
    context.close()


def test_bulk_triage_from_the_queue_logs_each_item(
    browser: Any, live: LiveServer, video: Path
) -> None:
    _, _, a = receive(live, video, "uno.mp4")
    _, _, b = receive(live, video, "dos.mp4")
    sub_id, token, c = receive(live, video, "tres.mp4")
    withdraw(live, sub_id, token)
    live.add_staff("ines", "investigator")
    context, page, problems = desktop(browser)
    log_in(page, live, "ines")

    def tick(*ids: str) -> None:
        # By id: a withdrawn item's file name is erased, so names cannot find every row.
        for item in ids:
            row = page.locator("tr", has=page.locator(f'a.item-link[href$="/{item}"]'))
            row.locator("input[name=ids]").check()

    # A withdrawn item among them without a reason: refused, and no item changes.
    tick(a, c)
    page.select_option("#bulk-action", "accept")
    page.fill("#bulk-reason", "vehículo visible")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_load_state()
    assert "indique el motivo" in page.locator(".alert").inner_text()
    assert events_of(live, "evidence.triaged", a) == events_of(live, "evidence.triaged", c) == []
    problems.messages.clear()

    page.goto(live.url + "/web/staff/queue")
    tick(a, b)
    page.select_option("#bulk-action", "accept")
    page.fill("#bulk-reason", "vehículo visible")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_url("**done=2**")
    check_page(page, "staff-queue-bulk-done")
    for ev in (a, b):
        [event] = events_of(live, "evidence.triaged", ev)
        assert event["details"]["reason"] == "vehículo visible"
    assert events_of(live, "evidence.triaged", c) == []
    assert problems.messages == []
    context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_witness_contact_page_is_accessible(
    browser: Any, live: LiveServer, video: Path, size: str
) -> None:
    """The page that shows a witness's contact details (a logged look) had no axe check."""
    with live.client() as http:
        sub_id, token = new_submission(
            http, contact={"name": "Ana Testigo", "phone": "+52 55 1234 5678"}
        )
        upload(http, {"Authorization": f"Bearer {token}"}, video.read_bytes(), name="ana.mp4")
    with live.runtime.sessions() as db:
        item = db.scalars(select(Evidence).where(Evidence.submission_id == sub_id)).one().id
    live.add_staff("sara", "supervisor")
    viewport = DESKTOP if size == "desktop" else PHONE
    context = browser.new_context(**viewport, locale="es-MX", bypass_csp=True)
    page = context.new_page()
    problems = PageProblems(page)
    log_in(page, live, "sara")
    page.goto(f"{live.url}/web/staff/evidence/{item}")
    page.click("#show-contact")
    page.wait_for_selector("#contact")
    text = check_page(page, f"staff-witness-contact-{size}")
    assert "Ana Testigo" in text and "+52 55 1234 5678" in text
    assert [e["details"] for e in events_of(live, "witness.contact_viewed", sub_id)] == [
        {"evidence": item}
    ]
    assert problems.messages == []
    context.close()
