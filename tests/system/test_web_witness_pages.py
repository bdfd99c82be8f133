"""Every witness page in Chromium on a phone (390x844), in Spanish: no serious accessibility
fault (axe-core), no English message from the app, a screenshot of each; and the traps of
issue 17 walked through as a witness would (leaving mid-upload, the language switch after
consent, buttons and headings after the last file, the incident offset across DST)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from portal.clock import as_utc
from portal.submissions.models import Submission
from tests.support.api import PASSWORD
from tests.support.media import make_video
from tests.support.requests import request_body
from tests.support.staff_pages import axe_violations, english_in, visible_text
from tests.support.web import PHONE, LiveServer, PageProblems, screenshot

CHUNK = 256 * 1024
UPLOADS = "**/api/v1/uploads**"


@pytest.fixture(scope="module")
def big_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(
        tmp_path_factory.mktemp("witness-pages") / "desde-la-esquina.mp4",
        seconds=8,
        bitrate=6_000_000,
    )


def phone(browser: Any, *, small_chunks: bool = False, **extra: Any) -> Any:
    # bypass_csp: axe-core is injected into the page, which the CSP would rightly refuse.
    context = browser.new_context(**PHONE, locale="es-MX", bypass_csp=True, **extra)
    if small_chunks:
        context.add_init_script(f"window.portalTusChunkSize = {CHUNK};")
    return context


def checked(page: Any, name: str) -> str:
    """Screenshot, then no serious accessibility fault and no English in the Spanish page."""
    screenshot(page, f"witness-{name}")
    assert page.locator("html").get_attribute("lang") == "es", name
    assert axe_violations(page) == [], name
    text = visible_text(page)
    assert english_in(text) == [], name
    return text


def consent(page: Any, live: LiveServer, *, when: str = "") -> str:
    page.goto(live.url + "/web/")
    page.check("#scope-investigation")
    page.check("#scope-prosecution")
    if when:
        page.fill("#occurred_at", when)
    page.fill("#place", "Av. 16 de Septiembre")
    page.click("#consent-submit")
    page.wait_for_url("**/web/upload/*")
    return str(page.locator("#receipt-code").inner_text().strip())


def slow(route: Any) -> None:
    if route.request.method == "PATCH":
        time.sleep(0.3)
    route.continue_()


def test_every_witness_page_in_spanish_on_a_phone(
    browser: Any, live: LiveServer, video: Path, tmp_path: Path
) -> None:
    context = phone(browser)
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(live.url + "/web/")
    checked(page, "consent")
    code = consent(page, live)
    checked(page, "upload")

    notes = tmp_path / "notas.mp4"  # named like a video, but text: refused at its first bytes
    notes.write_bytes(b"solo texto, no es un video\n" * 400)
    page.set_input_files("#files", [str(video), str(notes)])
    page.locator("#file-list li[data-state=done]").wait_for(timeout=60_000)
    page.locator("#file-list li[data-state=failed]").wait_for(timeout=60_000)
    # Finished and failed files have no "Pausar" left; the heading says it is over.
    for state in ("done", "failed"):
        assert not page.locator(f"#file-list li[data-state={state}] button").is_visible()
    assert page.locator("#active-h").inner_text() == "Terminado"
    failed = page.locator("#file-list li[data-state=failed] .status").inner_text()
    assert "no es un video" in failed, failed
    checked(page, "upload-finished")

    page.click("#to-receipt")
    page.wait_for_selector(".receipt-files")
    text = checked(page, "receipt")
    assert "Entrada del registro" not in text and "registro público" in text
    assert code in text

    page.click("text=Versión para imprimir")
    page.wait_for_selector("#status-qr svg")
    checked(page, "receipt-print")
    with page.expect_download() as pdf:
        page.goto(live.url + "/web/receipt")  # the code form, prefilled from the device
        page.click("#code-form button[type=submit]")
        page.wait_for_selector(".receipt-files")
        page.click("text=Descargar el recibo en PDF")
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")

    page.goto(live.url + "/web/status")
    checked(page, "status-code")
    page.fill("#code", code.lower())
    page.click("#code-form button[type=submit]")
    page.wait_for_selector(".receipt-files")
    checked(page, "status")
    page.click("text=Quiero retirar")
    page.wait_for_selector("#confirm-withdraw")
    checked(page, "withdraw")
    page.goto(live.url + "/web/about/log")
    checked(page, "about-log")
    for missing in ("/web/no-such-page", "/no-such-page"):
        page.goto(live.url + missing)
        assert "Esta página no existe." in checked(page, "not-found")
    assert problems.csp_violations() == []
    context.close()


def test_leaving_during_an_upload_warns_and_the_receipt_says_what_is_unfinished(
    browser: Any, live: LiveServer, big_video: Path
) -> None:
    """Reproduction: "Terminar y ver mi recibo" silently abandoned the upload."""
    context = phone(browser, small_chunks=True)
    page = context.new_page()
    page.route(UPLOADS, slow)
    consent(page, live)
    page.set_input_files("#files", str(big_video))
    # On a phone the progress card comes into sight after picking the file.
    page.wait_for_function(
        "() => { const r = document.getElementById('active').getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; }",
        timeout=10_000,
    )
    page.wait_for_function(
        "() => Number((document.querySelector('#file-list li') || {dataset: {}})"
        ".dataset.progress || 0) >= 5",
        timeout=60_000,
    )
    seen: list[str] = []

    def answer(dialog: Any) -> None:
        seen.append(dialog.message)
        if len(seen) == 1:
            dialog.dismiss()
        else:
            dialog.accept()

    page.on("dialog", answer)
    page.click("#to-receipt")
    assert len(seen) == 1 and "1 archivo" in seen[0]
    assert "/web/upload/" in page.url  # stayed: the upload goes on
    page.click("#to-receipt")
    page.wait_for_selector("#unfinished")
    text = checked(page, "receipt-unfinished")
    assert "Subidas sin terminar" in text and big_video.name in text
    context.close()


def test_language_switch_on_the_upload_page(browser: Any, live: LiveServer) -> None:
    """Reproduction: the switch after consent led to a 404."""
    context = phone(browser)
    page = context.new_page()
    code = consent(page, live)
    page.click("a.lang")
    page.wait_for_load_state()
    assert "/web/upload/" in page.url
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Upload your files"
    assert page.locator("#receipt-code").inner_text().strip() == code
    assert axe_violations(page) == []
    screenshot(page, "witness-upload-en")
    context.close()


@pytest.mark.parametrize(
    ("when", "offset"),
    [("2026-07-15T22:30", timedelta(hours=-6)), ("2026-01-15T22:30", timedelta(hours=-7))],
)
def test_incident_time_goes_with_the_offset_of_its_own_date(
    browser: Any, live: LiveServer, when: str, offset: timedelta
) -> None:
    """Reproduction: the offset was today's; across daylight saving an hour off. The
    browser is in Ciudad Juárez (UTC-7 in winter, UTC-6 in summer)."""
    context = phone(browser, timezone_id="America/Ciudad_Juarez")
    page = context.new_page()
    consent(page, live, when=when)
    with live.runtime.sessions() as db:
        sub = db.scalars(select(Submission).order_by(Submission.created_at.desc())).first()
        assert sub is not None and sub.incident_occurred_at is not None
        at = as_utc(sub.incident_occurred_at).replace(tzinfo=None)
    assert at == datetime.fromisoformat(when) - offset
    context.close()


def test_request_page_and_a_corrected_consent_form(browser: Any, live: LiveServer) -> None:
    """The remaining witness pages: an evidence request's page, the consent form sent back
    with what to correct, and a request code that leads nowhere."""
    live.add_staff("ines", "investigator")
    with live.client() as http:
        login = http.post("/api/v1/auth/login", data={"username": "ines", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        case = http.post("/api/v1/cases", json={"title": "Disparos"}, headers=auth)
        made = http.post(
            "/api/v1/requests",
            json=request_body(case.json()["id"], live.runtime.clock()),
            headers=auth,
        )
        assert made.status_code == 201, made.text
        code = made.json()["code"]
    context = phone(browser)
    page = context.new_page()
    page.goto(f"{live.url}/r/{code}")
    page.wait_for_selector("#request")
    checked(page, "request")
    page.goto(live.url + "/web/")
    page.check("#scope-investigation")
    page.check("#scope-prosecution")
    page.fill("#contact_email", "ana@ejemplo")  # the browser lets it through, the server not
    page.click("#consent-submit")
    page.wait_for_selector("div.alert[role=alert]")
    checked(page, "consent-corrected")
    page.goto(f"{live.url}/r/NOPE-NOPE")
    checked(page, "request-unknown")
    context.close()
