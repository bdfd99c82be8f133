"""The staff pages in Chromium: an investigator logs in, finds the item, plays it, and the
view is on the item's custody timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.api import PASSWORD, new_submission
from tests.support.uploads import upload
from tests.support.web import (
    DESKTOP,
    PHONE,
    LiveServer,
    PageProblems,
    screenshot,
)


def receive(live: LiveServer, video: Path, name: str) -> str:
    """A witness's video arrives (with contact details), as the API receives it."""
    with live.client() as http:
        sub_id, token = new_submission(
            http,
            contact={"name": "Ana Testigo", "phone": "+52 55 1234 5678"},
            incident={"place": "Av. Juárez", "description": "Disparos"},
        )
        upload(http, {"Authorization": f"Bearer {token}"}, video.read_bytes(), name=name)
    return sub_id


def log_in(page: Any, live: LiveServer, name: str, target: str = "/web/staff/queue") -> None:
    page.goto(live.url + target)
    assert "/web/staff/login" in page.url  # not logged in yet: sent to the login page
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"**{target}**")


def timeline_types(page: Any) -> list[str]:
    types: list[str] = page.locator("#timeline tr[data-type]").evaluate_all(
        "(rows) => rows.map((r) => r.dataset.type)"
    )
    return types


def test_investigator_finds_plays_and_sees_the_view_in_the_timeline(
    browser: Any, live: LiveServer, video: Path
) -> None:
    receive(live, video, "balcon-norte.mp4")
    live.add_staff("ines", "investigator")
    context = browser.new_context(**DESKTOP, locale="es-MX")
    page = context.new_page()
    problems = PageProblems(page)
    log_in(page, live, "ines")

    session = next(c for c in context.cookies() if c["name"] == "portal_session")
    assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
    assert session["value"].startswith("st_")

    page.select_option("#f-type", "video")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**media_type=video**")
    item = page.locator("a.item-link", has_text="balcon-norte.mp4")
    assert item.count() == 1
    screenshot(page, "staff-queue")

    item.click()
    page.wait_for_url("**/web/staff/evidence/*")
    page.wait_for_function(
        "() => { const v = document.querySelector('#player'); return v && v.readyState >= 2; }",
        timeout=30_000,
    )
    width = page.locator("#player").evaluate("(v) => v.videoWidth")
    assert width == 640
    assert page.locator("img.thumb").evaluate("(img) => img.complete && img.naturalWidth > 0")
    # An investigator may not see the witness's contact: not rendered, not even a button.
    html = page.content()
    assert "Ana Testigo" not in html and "1234 5678" not in html
    assert page.locator("#show-contact").count() == 0
    screenshot(page, "staff-evidence")

    # The page was rendered before the player asked for bytes; the next look shows it.
    page.reload()
    types = timeline_types(page)
    for expected in (
        "evidence.received",
        "evidence.viewed",
        "evidence.timeline_viewed",
        "evidence.thumbnail_viewed",
        "evidence.stream_opened",
    ):
        assert expected in types, types
    opened = page.locator("#timeline tr[data-type='evidence.stream_opened']").first
    assert "ines (investigador(a))" in opened.inner_text()

    # Triage from the page (a CSRF-protected form) shows up too.
    page.check("#d-accept")
    page.fill("#triage-reason", "imagen clara del vehículo")
    page.click("#triage-form button[type=submit]")
    page.wait_for_url("**done=1**")
    assert "evidence.triaged" in timeline_types(page)
    assert problems.messages == []
    context.close()


def test_supervisor_pages_on_a_phone(browser: Any, live: LiveServer, video: Path) -> None:
    """Supervisor: cases, holds, the retention list and the log, with no CSP complaints."""
    receive(live, video, "esquina.mp4")
    live.add_staff("sara", "supervisor")
    context = browser.new_context(**PHONE, locale="en-US")
    page = context.new_page()
    problems = PageProblems(page)
    log_in(page, live, "sara", "/web/staff/cases")
    page.fill("#case-title", "Shooting on Juárez Avenue")
    page.fill("#case-ref", "CI-2024-118")
    page.click("#case-form button[type=submit]")
    page.wait_for_url("**/web/staff/cases/*")
    assert page.locator("#case-status").inner_text() == "open"

    page.goto(live.url + "/web/staff/queue")
    page.locator("a.item-link", has_text="esquina.mp4").click()
    page.wait_for_url("**/web/staff/evidence/*")
    page.select_option("#link-case", label="Shooting on Juárez Avenue (CI-2024-118)")
    page.click("#link-form button[type=submit]")
    page.wait_for_url("**done=1**")
    page.fill("#hold-reason", "court order 118/2024")
    page.click("#hold-form button[type=submit]")
    page.wait_for_url("**done=1**")
    types = timeline_types(page)
    assert "evidence.linked" in types and "hold.placed" in types, types

    page.click("#show-contact")
    assert "Ana Testigo" in page.locator("#contact").inner_text()

    page.goto(live.url + "/web/staff/retention")
    assert page.locator("h1").inner_text() == "Due for destruction"
    page.goto(live.url + "/web/staff/log")
    checkpoint = page.locator("#checkpoint").inner_text()
    assert checkpoint.startswith(live.runtime.settings.log_origin)
    assert problems.messages == []
    context.close()
