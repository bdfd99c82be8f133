"""An evidence request end to end in Chromium: the poster's QR code, decoded from the PNG the
portal made, leads a phone to the request page, consent, upload and receipt; the file then
shows in the request's case on the staff pages."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from tests.support.api import PASSWORD
from tests.support.media import make_video
from tests.support.requests import request_body
from tests.support.web import PHONE, LiveServer, PageProblems, sha256_of


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("request-clip") / "esquina.mp4", seconds=1)


def _publish(live: LiveServer) -> tuple[str, str, bytes]:
    """An investigator opens a case and a request for it: (case id, request id, QR PNG)."""
    live.add_staff("ines", "investigator")
    with live.client() as http:
        login = http.post("/api/v1/auth/login", data={"username": "ines", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        case = http.post("/api/v1/cases", json={"title": "Disparos en Juárez"}, headers=auth)
        case_id = case.json()["id"]
        body = request_body(case_id, live.runtime.clock())
        made = http.post("/api/v1/requests", json=body, headers=auth)
        assert made.status_code == 201, made.text
        req_id = made.json()["id"]
        png = http.get(f"/api/v1/requests/{req_id}/qr.png", headers=auth)
        assert png.status_code == 200
    return case_id, req_id, png.content


def test_a_witness_scans_the_poster_and_the_file_lands_in_the_case(
    browser: Any, live: LiveServer, clip: Path
) -> None:
    case_id, _, png = _publish(live)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    scanned = found[0].text
    assert scanned.startswith(live.url + "/r/")

    context = browser.new_context(**PHONE, locale="es-MX")
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(scanned)
    assert page.viewport_size == {"width": 390, "height": 844}
    assert "¿Grabó Av. Juárez" in page.locator("#request h1").inner_text()
    assert "Responder es voluntario" in page.locator("#request").inner_text()
    assert "Disparos en Juárez" not in page.content()  # the case's own title stays inside
    page.check("#scope-investigation")
    page.check("#scope-prosecution")
    page.click("#consent-submit")
    page.wait_for_url("**/web/upload/*")
    page.set_input_files("#files", str(clip))
    page.locator("#file-list li[data-state=done]").first.wait_for(timeout=90_000)
    page.click("#to-receipt")
    page.wait_for_selector(".receipt-files")
    hashes = [h.strip() for h in page.locator("[data-sha256]").all_inner_texts()]
    assert hashes == [sha256_of(clip)]
    assert problems.messages == []
    context.close()

    live.add_staff("sara", "supervisor")
    staff = browser.new_context()
    desk = staff.new_page()
    desk.goto(live.url + f"/web/staff/cases/{case_id}")
    desk.fill("#username", "sara")
    desk.fill("#password", PASSWORD)
    desk.click("#login-form button[type=submit]")
    desk.wait_for_url(f"**/web/staff/cases/{case_id}")
    assert clip.name in desk.locator("main").inner_text()
    desk.goto(live.url + "/web/staff/requests")
    assert desk.locator("#requests .n-files").inner_text().strip() == "1"
    staff.close()
