"""The witness pages in Chromium: consent, upload with progress, resume, receipt, status.

Phone-sized viewport; the main flow (consent, upload, receipt) also at a desktop size. The
uploads go through the page's own tus-js-client to the real tus server; the receipt's SHA-256
is checked against the file and the downloaded receipt is verified offline.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from portal.custody.receipt import verify_receipt
from tests.support.media import make_video
from tests.support.web import (
    PHONE,
    LiveServer,
    PageProblems,
    screenshot,
    sha256_of,
)

CHUNK = 256 * 1024
UPLOADS = "**/api/v1/uploads**"


@pytest.fixture(scope="module")
def big_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 6 MB: two dozen 256 KiB tus requests."""
    return make_video(
        tmp_path_factory.mktemp("web-media") / "desde-el-balcon.mp4",
        seconds=8,
        bitrate=6_000_000,
    )


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(
        tmp_path_factory.mktemp("web-short") / "segundo.mp4", seconds=1, size="320x240"
    )


# The main flow runs at both sizes: a phone and a laptop screen.
SIZES: dict[str, dict[str, Any]] = {
    "phone": PHONE,
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
    .filter((el) => el.type !== 'hidden')
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                    && !(el.tagName === 'BUTTON' && el.textContent.trim()))
    .map((el) => el.id || el.name || el.tagName)"""


def phone(
    browser: Any, locale: str = "es-MX", small_chunks: bool = False, size: str = "phone"
) -> Any:
    context = browser.new_context(**SIZES[size], locale=locale, accept_downloads=True)
    if small_chunks:
        context.add_init_script(f"window.portalTusChunkSize = {CHUNK};")
    return context


def give_consent(page: Any, live: LiveServer) -> str:
    """Fill the consent form (one optional scope, incident, contact) and submit it."""
    page.check("#scope-investigation")
    page.check("#scope-prosecution")
    page.fill("#place", "Av. Juárez y Calle 5")
    page.fill("#description", "Disparos desde un auto gris")
    page.fill("#contact_phone", "+52 55 0000 0000")
    page.click("#consent-submit")
    page.wait_for_url("**/web/upload/*")
    code: str = page.locator("#receipt-code").inner_text().strip()
    # Readable: 13 groups of 4 Crockford base32 symbols, no I, L, O or U.
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){12}", code), code
    return code


def submission_of(page: Any) -> str:
    """The submission id, from the upload page's address."""
    return str(page.url).split("?")[0].rstrip("/").rsplit("/", 1)[1]


def wait_done(page: Any, count: int = 1, timeout: float = 90_000) -> None:
    page.locator("#file-list li[data-state=done]").nth(count - 1).wait_for(timeout=timeout)


def open_receipt(page: Any) -> list[str]:
    page.click("#to-receipt")
    page.wait_for_selector(".receipt-files")
    return [h.strip() for h in page.locator("[data-sha256]").all_inner_texts()]


def download_receipt(page: Any) -> dict[str, Any]:
    with page.expect_download() as info:
        page.click("#download-receipt")
    data: dict[str, Any] = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    return data


class Throttle:
    """Route handler for the tus requests: slows each PATCH, can refuse them for a while, and
    records what the page sent."""

    def __init__(self, delay: float = 0.15) -> None:
        self.delay = delay
        self.drop_until = 0.0
        self.dropped = 0
        self.requests: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()

    def __call__(self, route: Any) -> None:
        request = route.request
        offset = request.headers.get("upload-offset")
        with self.lock:
            self.requests.append((request.method, request.url, offset))
        if request.method == "PATCH":
            if time.monotonic() < self.drop_until:
                self.dropped += 1
                route.abort("connectionreset")
                return
            time.sleep(self.delay)
        route.continue_()

    def drop_for(self, seconds: float) -> None:
        self.drop_until = time.monotonic() + seconds

    def count(self, method: str) -> int:
        return sum(1 for m, _, _ in self.requests if m == method)


def progress(page: Any) -> int:
    value = page.locator("#file-list li").first.get_attribute("data-progress")
    return int(value or 0)


def wait_progress(page: Any, at_least: int) -> None:
    # A function, not a string: the page's CSP (rightly) forbids evaluating strings.
    page.wait_for_function(
        "(n) => Number((document.querySelector('#file-list li') || {dataset: {}})"
        ".dataset.progress || 0) >= n",
        arg=at_least,
        timeout=60_000,
    )


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["es", "en"])
def test_witness_uploads_a_video_and_gets_a_matching_receipt(
    browser: Any, live: LiveServer, video: Path, short_clip: Path, lang: str, size: str
) -> None:
    """In English the witness picks two files at once."""
    context = phone(browser, size=size)
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(live.url + "/web/")
    if lang == "en":
        # The switch is remembered: the next page comes in English without asking again.
        page.get_by_role("link", name="Read in English").click()
        page.goto(live.url + "/web/")
    assert page.locator("html").get_attribute("lang") == lang
    heading = {"es": "Entregar un video o una foto", "en": "Hand over a video or photo"}[lang]
    assert page.locator("h1").inner_text() == heading
    assert page.evaluate(UNLABELLED) == []
    screenshot(page, f"witness-consent-{lang}-{size}")

    code = give_consent(page, live)
    assert page.evaluate(UNLABELLED) == []
    files = [video, short_clip] if lang == "en" else [video]
    page.set_input_files("#files", [str(f) for f in files])
    wait_done(page, len(files))
    done = {"es": "Recibido", "en": "Received"}[lang]
    assert page.locator("#file-list li .status").all_inner_texts() == [done] * len(files)

    hashes = open_receipt(page)
    assert hashes == [sha256_of(f) for f in files]
    assert all(f.name in page.locator(".receipt-files").inner_text() for f in files)
    assert page.locator("#receipt-code").inner_text().strip() == code
    screenshot(page, f"witness-receipt-{lang}-{size}")

    receipt = download_receipt(page)
    assert [f["sha256"] for f in receipt["files"]] == [sha256_of(f) for f in files]
    report = verify_receipt(receipt, live.runtime.log_verifier, files)
    assert report.ok, report.text()
    assert receipt["consent"]["language"] == lang
    width = {"phone": 390, "desktop": 1280}[size]
    assert page.evaluate("() => window.innerWidth") == width
    # Nothing wider than the screen: no sideways scrolling at either size.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width

    cookies = {c["name"]: c for c in context.cookies()}
    # Plain http on 127.0.0.1: not Secure (a browser would drop it), still HttpOnly + Strict.
    csrf = cookies["portal_csrf"]
    assert (csrf["httpOnly"], csrf["sameSite"], csrf["secure"]) == (True, "Strict", False)
    if lang == "en":
        assert cookies["portal_lang"]["value"] == "en"
    assert problems.messages == []
    context.close()


def test_upload_survives_dropped_connections(
    browser: Any, live: LiveServer, big_video: Path
) -> None:
    """PATCHes refused for a while, then the browser goes offline for a while: the upload
    carries on by itself both times and the receipt's SHA-256 matches."""
    context = phone(browser, small_chunks=True)
    page = context.new_page()
    problems = PageProblems(page)
    throttle = Throttle()
    page.route(UPLOADS, throttle)
    page.goto(live.url + "/web/")
    give_consent(page, live)
    page.set_input_files("#files", str(big_video))

    wait_progress(page, 15)
    screenshot(page, "witness-upload-in-progress")
    stats = page.locator("#file-list li .stats").first.inner_text()
    assert "%" in stats and "/s" in stats and "quedan" in stats, stats

    # Pause: nothing is sent while paused; resume carries on from where it stopped.
    item = page.locator("#file-list li").first
    item.locator("button").click()
    page.locator("#file-list li[data-state=paused]").wait_for()
    assert item.locator("button").inner_text() == "Reanudar"
    time.sleep(0.5)  # let the cut request settle
    sent, paused_at = len(throttle.requests), progress(page)
    time.sleep(1.5)
    assert len(throttle.requests) == sent and progress(page) == paused_at
    item.locator("button").click()
    wait_progress(page, paused_at + 5)

    throttle.drop_for(3.0)
    page.locator("#file-list li[data-state=retrying]").wait_for(timeout=20_000)
    before = progress(page)
    wait_progress(page, before + 10)  # going again after the drop, without any click
    assert throttle.dropped >= 1

    context.set_offline(True)
    page.locator("#file-list li[data-state=offline]").wait_for(timeout=20_000)
    offline_at = progress(page)
    time.sleep(1.5)
    assert progress(page) == offline_at
    context.set_offline(False)

    wait_done(page)
    assert throttle.count("POST") == 1  # one upload, resumed: never started over
    assert open_receipt(page) == [sha256_of(big_video)]
    assert problems.csp_violations() == []
    context.close()


def test_upload_resumes_after_a_page_reload(
    browser: Any, live: LiveServer, big_video: Path
) -> None:
    context = phone(browser, small_chunks=True)
    page = context.new_page()
    problems = PageProblems(page)
    throttle = Throttle()
    page.route(UPLOADS, throttle)
    page.goto(live.url + "/web/")
    code = give_consent(page, live)
    upload_url = page.url
    page.set_input_files("#files", str(big_video))
    wait_progress(page, 30)

    patches_before = len(throttle.requests)
    page.reload()
    # The page keeps its witness token on the device: it knows the submission and shows
    # the unfinished upload, and asks for the same file again.
    assert page.url == upload_url
    assert page.locator("#receipt-code").inner_text().strip() == code
    page.wait_for_selector("#pending:not([hidden])")
    assert big_video.name in page.locator("#pending-list").inner_text()

    page.set_input_files("#files", str(big_video))
    wait_done(page)
    after = throttle.requests[patches_before:]
    methods = [m for m, _, _ in after]
    assert "POST" not in methods, methods  # no new upload: the stored URL was reused
    assert "HEAD" in methods
    first_patch = next(offset for m, _, offset in after if m == "PATCH")
    assert int(first_patch or 0) > 0, after[:5]
    assert open_receipt(page) == [sha256_of(big_video)]

    # The whole submission has exactly that one file, received once.
    token = code
    sub_id = upload_url.rsplit("/", 1)[1]
    with live.client() as http:
        status = http.get(
            f"/api/v1/submissions/{sub_id}", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert [f["sha256"] for f in status["files"]] == [sha256_of(big_video)]
    assert [u["status"] for u in status["uploads"]] == ["completed"]
    assert problems.csp_violations() == []
    context.close()


def test_status_page_shows_retention_and_withdrawal_works(
    browser: Any, live: LiveServer, video: Path
) -> None:
    context = phone(browser, locale="en-GB")
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(live.url + "/web/")
    assert page.locator("html").get_attribute("lang") == "en"  # from Accept-Language
    code = give_consent(page, live)
    sub_id = submission_of(page)
    page.set_input_files("#files", str(video))
    wait_done(page)

    # Another device: nothing stored, the witness types the code.
    other = phone(browser, locale="en-GB")
    status_page = other.new_page()
    status_page.goto(live.url + "/web/status")
    assert status_page.locator("#code").input_value() == ""
    status_page.fill("#code", "0" * 32 + ".wt_not-the-right-token-at-all")
    status_page.click("#code-form button[type=submit]")
    assert "not valid" in status_page.locator(".alert").inner_text()
    status_page.fill("#code", code)
    status_page.click("#code-form button[type=submit]")
    status_page.wait_for_selector(".receipt-files")
    assert status_page.url.endswith("/web/status")  # the code never appears in the URL
    assert code not in status_page.url
    retention = status_page.locator(".retention").first
    assert retention.get_attribute("data-state") == "scheduled"
    assert "To be destroyed after" in retention.inner_text()
    screenshot(status_page, "witness-status")

    status_page.click("text=I want to withdraw")
    status_page.wait_for_selector("#confirm-withdraw")
    status_page.click("#confirm-withdraw")
    status_page.wait_for_selector("#submission-status[data-status=withdrawn]")
    assert "withdrawn" in status_page.locator("p.ok").inner_text()
    assert status_page.locator(".retention").first.get_attribute("data-state") == "scheduled"

    with live.client() as http:
        token = code
        api = http.get(
            f"/api/v1/submissions/{sub_id}", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert api["status"] == "withdrawn" and api["withdrawn_at"]
    assert problems.messages == []
    other.close()
    context.close()
