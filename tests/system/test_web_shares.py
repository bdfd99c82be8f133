"""A prosecutor's share in Debian's Chromium: the recipient signs in with the one-time code,
plays an iPhone's HEVC video through its H.264 review copy (pictures, not only sound) and
downloads the original byte for byte; the supervisor revokes the share mid-session and the
recipient's next request gets the 410 page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portal.evidence.models import Evidence
from portal.uploads.models import Upload
from tests.support.api import PASSWORD, new_submission
from tests.support.jobs import hevc_mov, jobs_of
from tests.support.uploads import upload
from tests.support.web import DESKTOP, LiveServer, sha256_of

READY = "() => { const v = document.querySelector('video.player'); return v && v.readyState >= 2; }"
PLAYED = """async () => {
  const v = document.querySelector('video.player');
  v.muted = true;
  await v.play();
  await new Promise((done) => setTimeout(done, 500));
  return v.videoWidth;
}"""


def _case_with_mov(live: LiveServer, tmp_path: Path) -> tuple[str, str]:
    """(evidence id, SHA-256) of an HEVC .MOV received and linked to a new case."""
    mov = hevc_mov(tmp_path, seconds=2)
    live.add_staff("sofia", "supervisor")
    with live.client() as http:
        _, token = new_submission(http)
        url = upload(http, {"Authorization": f"Bearer {token}"}, mov.read_bytes(), name=mov.name)
        with live.runtime.sessions() as db:
            row = db.get(Upload, url.rsplit("/", 1)[1])
            assert row is not None and row.evidence_id is not None
            item = db.get(Evidence, row.evidence_id)
            assert item is not None
        login = http.post("/api/v1/auth/login", data={"username": "sofia", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        case = http.post("/api/v1/cases", json={"title": "Caso 7"}, headers=auth).json()
        linked = http.post(
            f"/api/v1/cases/{case['id']}/evidence", json={"evidence_id": item.id}, headers=auth
        )
        assert linked.status_code == 204, linked.text
    return item.id, item.sha256


def _share(page: Any, live: LiveServer) -> tuple[str, str]:
    """(link, code) of a view-and-download share the supervisor makes on the page."""
    page.goto(live.url + "/web/staff/login")
    page.fill("#username", "sofia")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/web/staff/**")
    page.goto(live.url + "/web/staff/shares")
    page.fill("#recipient", "Lic. Marta Ruiz, Fiscalía")
    page.fill("#days", "7")
    page.check("#download")
    page.click("#share-form button[type=submit]")
    link = page.locator("#share-link").get_attribute("href")
    return str(link), page.locator("#share-code").inner_text()


def test_a_recipient_plays_downloads_and_is_stopped_by_a_revoke(
    live: LiveServer, browser: Any, tmp_path: Path
) -> None:
    item, sha256 = _case_with_mov(live, tmp_path)
    staff = browser.new_context(**DESKTOP, locale="es-MX")
    supervisor = staff.new_page()
    link, code = _share(supervisor, live)
    # The review copy is made by the server's own job runner, as for staff.
    supervisor.wait_for_function(
        f"() => fetch('/web/staff/evidence/{item}').then((r) => r.text())"
        ".then((t) => t.includes('review-copy'))",
        timeout=60_000,
        polling=500,
    )
    assert jobs_of(live.runtime, item)["proxy"].state == "done"

    outside = browser.new_context(**DESKTOP, locale="en-GB", accept_downloads=True)
    recipient = outside.new_page()
    recipient.goto(link)
    recipient.fill("#code", code.lower())  # read out over the phone: case does not matter
    recipient.click("#share-signin button[type=submit]")
    recipient.wait_for_url("**/items")
    player = recipient.locator("video.player")
    assert player.get_attribute("src").endswith(f"/items/{item}/proxy")
    recipient.wait_for_function(READY, timeout=30_000)
    assert recipient.evaluate(PLAYED) > 0
    with recipient.expect_download() as download:
        recipient.click(f"section[data-item='{item}'] a.download")
    saved = tmp_path / "downloaded"
    download.value.save_as(saved)
    assert sha256_of(saved) == sha256

    # Mid-session the supervisor revokes; the recipient's very next request is refused.
    supervisor.goto(live.url + "/web/staff/shares")
    supervisor.click(f"tr[data-share='{link.rsplit('/', 1)[1]}'] button[type=submit]")
    supervisor.wait_for_url("**/web/staff/shares")
    answer = recipient.goto(recipient.url)
    assert answer is not None and answer.status == 410
    assert "was revoked" in recipient.content()
    content = recipient.evaluate(
        f"() => fetch('{link}/items/{item}/content?download=1').then((r) => r.status)"
    )
    assert content == 410
    staff.close()
    outside.close()
