"""An iPhone's HEVC .MOV in Debian's Chromium: the staff page plays its H.264 review copy
(pictures, not only sound), says so and names the original, which is one click away."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from portal.custody.models import LogEntry
from portal.evidence.models import Evidence
from portal.runtime import Runtime
from portal.uploads.models import Upload
from tests.support.api import PASSWORD, new_submission
from tests.support.jobs import hevc_mov, jobs_of
from tests.support.uploads import upload
from tests.support.web import DESKTOP, LiveServer, PageProblems, chromium

READY = "() => { const v = document.querySelector('#player'); return v && v.readyState >= 2; }"
PLAYED = """async () => {
  const v = document.querySelector('#player');
  v.muted = true;
  await v.play();
  await new Promise((done) => setTimeout(done, 500));
  return [v.videoWidth, v.getVideoPlaybackQuality().totalVideoFrames];
}"""
SEEK = """async () => {
  const v = document.querySelector('#player');
  v.pause();
  const seeked = new Promise((done) => v.addEventListener('seeked', done, { once: true }));
  v.currentTime = 1.5;
  await seeked;
  return v.currentTime;
}"""


def proxy_viewed(rt: Runtime, item: str) -> list[str]:
    with rt.sessions() as db:
        return list(
            db.scalars(
                select(LogEntry.event).where(
                    LogEntry.type == "evidence.proxy_viewed", LogEntry.subject == item
                )
            )
        )


def log_in(page: Any, live: LiveServer, name: str) -> None:
    page.goto(live.url + "/web/staff/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/web/staff/**")


def test_an_hevc_mov_plays_pictures_through_its_review_copy(
    live: LiveServer, tmp_path: Path
) -> None:
    mov = hevc_mov(tmp_path, seconds=2)
    with live.client() as http:
        _, token = new_submission(http)
        url = upload(http, {"Authorization": f"Bearer {token}"}, mov.read_bytes(), name=mov.name)
    rt = live.runtime
    with rt.sessions() as db:
        row = db.get(Upload, url.rsplit("/", 1)[1])
        assert row is not None and row.evidence_id is not None
        item = row.evidence_id
        sha256 = db.get(Evidence, item).sha256  # type: ignore[union-attr]
    live.add_staff("ines", "investigator")
    with chromium() as browser:
        context = browser.new_context(**DESKTOP, locale="en-GB")
        page: Any = context.new_page()
        problems = PageProblems(page)
        log_in(page, live, "ines")
        page.wait_for_function(
            f"() => fetch('/web/staff/evidence/{item}').then((r) => r.text())"
            ".then((t) => t.includes('review-copy'))",
            timeout=60_000,
            polling=500,
        )
        assert jobs_of(rt, item)["proxy"].state == "done"
        ranged: list[int] = []
        page.on("response", lambda r: ranged.append(r.status) if "/proxy" in r.url else None)
        page.goto(f"{live.url}/web/staff/evidence/{item}")
        page.wait_for_function(READY, timeout=30_000)
        width, frames = page.evaluate(PLAYED)
        assert width == 320 and frames > 0
        # The player asks the review copy for ranges, and seeking lands where it was sent.
        assert 206 in ranged
        assert page.evaluate(SEEK) >= 1.4
        # The player's Range requests, and more within the idle window, are one playback.
        statuses = page.evaluate(
            f"""() => Promise.all(['bytes=0-99', 'bytes=100-199', 'bytes=-10'].map((r) =>
                fetch('/web/staff/evidence/{item}/proxy', {{headers: {{Range: r}}}})
                .then((x) => x.status)))"""
        )
        assert statuses == [206, 206, 206] and len(proxy_viewed(rt, item)) == 1
        note = page.locator("#review-copy").inner_text()
        assert "Playing a review copy" in note and sha256 in note
        page.click("#review-copy a")
        page.wait_for_url("**original=1**")
        assert page.locator("#player").get_attribute("src").endswith(f"/{item}/content")
        assert problems.messages == []
        context.close()
