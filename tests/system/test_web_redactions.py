"""Redaction in Debian's Chromium, through the staff pages only: an investigator draws a box on
the item's still, defines the redaction and previews it; a second person, a supervisor,
approves it with a ticked box; the rendered copy plays (pictures, not only sound) under its
"REDACTED COPY" label naming the original. No serious or critical axe-core fault on the way,
no CSP violation, no failed request."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from portal.redactions.models import Redaction
from portal.uploads.models import Upload
from tests.support.api import CONSENT, PASSWORD, new_submission
from tests.support.redaction import probed, video_with_sound
from tests.support.staff_pages import axe_violations, english_in, visible_text
from tests.support.uploads import upload
from tests.support.web import DESKTOP, LiveServer, PageProblems, screenshot

PLAYED = """async () => {
  const v = document.querySelector('#redacted-copy-1');
  v.muted = true;
  await v.play();
  await new Promise((done) => setTimeout(done, 500));
  return [v.videoWidth, v.getVideoPlaybackQuality().totalVideoFrames];
}"""
LOADED = "(id) => { const i = document.getElementById(id); return i && i.naturalWidth > 0; }"


def log_in(browser: Any, live: LiveServer, name: str, lang: str) -> tuple[Any, Any, PageProblems]:
    context = browser.new_context(
        **DESKTOP, locale="es-MX" if lang == "es" else "en-GB", bypass_csp=True
    )
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(live.url + "/web/staff/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/web/staff/**")
    return context, page, problems


def received(live: LiveServer, clip: bytes) -> str:
    consent = {**CONSENT, "scopes": [*CONSENT["scopes"], "public_appeal"]}
    with live.client() as http:
        _, token = new_submission(http, consent=consent)
        url = upload(http, {"Authorization": f"Bearer {token}"}, clip, name="calle.mp4")
    with live.runtime.sessions() as db:
        row = db.get(Upload, url.rsplit("/", 1)[1])
        assert row is not None and row.evidence_id is not None
        item = row.evidence_id
    return probed(live, item)


def the_redaction(live: LiveServer) -> Redaction:
    with live.runtime.sessions() as db:
        (row,) = db.query(Redaction).all()
        db.expunge(row)
        return row


def checked(page: Any, name: str, *, spanish: bool) -> None:
    screenshot(page, name)
    assert axe_violations(page) == [], name
    if spanish:
        assert english_in(visible_text(page)) == [], name


def draw_box(page: Any) -> None:
    """Drag across the still: from a tenth of its size to a half."""
    page.wait_for_function(LOADED, arg="draw-still")
    page.locator("#draw-still").scroll_into_view_if_needed()
    box = page.locator("#draw-still").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()


def test_a_drawn_box_is_previewed_approved_by_another_and_its_copy_plays(
    browser: Any, live: LiveServer, tmp_path: Path
) -> None:
    clip = video_with_sound(tmp_path / "clip.mp4").read_bytes()
    source = hashlib.sha256(clip).hexdigest()
    item = received(live, clip)
    live.add_staff("ines", "investigator")
    live.add_staff("sara", "supervisor")

    context, page, problems = log_in(browser, live, "ines", "es")
    page.goto(f"{live.url}/web/staff/evidence/{item}")
    checked(page, "redaction-empty-es", spanish=True)
    draw_box(page)
    assert page.input_value("#op-kind-1") == "box_blur", problems.messages
    x, y, w, h = (int(page.input_value(f"#op-{f}-1")) for f in ("x", "y", "w", "h"))
    assert abs(x - 32) <= 2 and abs(y - 24) <= 2  # of 320x240 pixels
    assert abs(w - 128) <= 4 and abs(h - 96) <= 4
    page.fill("#op-start-1", "0")
    page.fill("#op-end-1", "2")
    page.select_option("#redact-purpose", "public_appeal")
    page.click("#redaction-form button[type=submit]")
    page.wait_for_url("**done=1**")
    row = the_redaction(live)
    assert row.state == "requested" and row.operations[0]["x"] == x

    page.fill("#preview-at-1", "0.4")
    page.click(".preview-form button[type=submit]")
    page.wait_for_function(LOADED, arg="preview-image", timeout=60_000)
    checked(page, "redaction-preview-es", spanish=True)
    assert page.locator(".approve-form").count() == 0  # not by who asked
    assert problems.messages == []
    context.close()

    context, page, problems = log_in(browser, live, "sara", "en")
    page.goto(f"{live.url}/web/staff/evidence/{item}")
    page.check("#approve-confirm-1")
    page.click(".approve-form button[type=submit]")
    page.wait_for_url("**done=1**")
    deadline = time.monotonic() + 120
    while the_redaction(live).state != "rendered":
        assert time.monotonic() < deadline and the_redaction(live).state != "failed"
        time.sleep(0.5)
    page.goto(f"{live.url}/web/staff/evidence/{item}")
    page.wait_for_function(
        "() => document.querySelector('#redacted-copy-1').readyState >= 2", timeout=30_000
    )
    width, frames = page.evaluate(PLAYED)
    assert width == 320 and frames > 0
    label = page.locator("#redacted-label-1").inner_text()
    assert "REDACTED COPY — not the original" in label and source in label
    copy = the_redaction(live).output_sha256
    assert copy is not None and copy in page.locator(".copy-sha256").inner_text()
    checked(page, "redaction-rendered-en", spanish=False)
    assert problems.messages == []
    context.close()
