"""The witness's receipt made to keep, and the traps on the way there (issue 17, witness side):
readable codes (old ones still open), the print view and PDF with a QR code of the status
page, unfinished uploads on the receipt, the language switch after consent, the incident
offset of the chosen date, non-media refused at its first bytes, the "no such page" page and
compressed static files."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from portal.auth.witness import CANONICAL_RE, canonical, new_token
from portal.clock import as_utc
from portal.config import Settings
from portal.custody.models import LogEntry
from portal.custody.receipt import verify_receipt
from portal.db import transaction
from portal.flows import requests as request_flows
from portal.submissions.models import Submission
from portal.submissions.schemas import SubmissionCreate
from portal.uploads.models import Upload, UploadState
from tests.support.api import CONSENT, new_submission, runtime
from tests.support.uploads import TUS, create_upload, patch
from tests.support.web import csrf_of, received, sha256_of, web_app

CONFUSABLE = set("ILOU")
pytestmark = pytest.mark.both_backends


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url="https://testserver") as client:
        yield client


def status_url(web: TestClient) -> str:
    return runtime(web).settings.public_url.rstrip("/") + "/web/status"


def test_new_codes_are_grouped_without_confusable_characters_and_keep_256_bits() -> None:
    codes = {new_token() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        groups = code.split("-")
        assert len(groups) == 13 and all(len(g) == 4 for g in groups), code
        assert not CONFUSABLE & set(code), code
        # 52 symbols of 5 bits carry the 256 random bits (the last symbol holds one).
        assert CANONICAL_RE.fullmatch(canonical(code))
    assert len({c[-1] for c in codes}) == 2  # 1 bit in the last symbol: 0 or G


def test_a_code_typed_sloppily_still_opens_the_receipt(web: TestClient, video: Path) -> None:
    _, token, _ = received(web, video)
    csrf = csrf_of(web)
    sloppy = " " + token.lower().replace("-", " ").replace("0", "o").replace("1", "l") + " "
    r = web.post("/web/receipt", data={"csrf": csrf, "code": sloppy})
    assert r.status_code == 200, r.text[:300]
    assert token in r.text  # shown back grouped, as given
    assert sha256_of(video) in r.text
    # One symbol wrong: refused, and nothing was opened.
    wrong = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert web.post("/web/receipt", data={"csrf": csrf, "code": wrong}).status_code == 401


def test_old_codes_keep_working(web: TestClient) -> None:
    rt = runtime(web)
    old_token = "wt_" + "x" * 43
    model = SubmissionCreate.model_validate({"consent": CONSENT})
    with transaction(rt.sessions) as db:
        sub = request_flows.open_submission(
            rt, db, payload=model, token=old_token, cipher=rt.contact_cipher, now=rt.clock()
        )
        sub_id = sub.id
    csrf = csrf_of(web)
    r = web.post("/web/status", data={"csrf": csrf, "code": f"{sub_id}.{old_token}"})
    assert r.status_code == 200 and f"{sub_id}.{old_token}" in r.text
    assert web.get(
        f"/api/v1/submissions/{sub_id}", headers={"Authorization": f"Bearer {old_token}"}
    ).is_success
    # The old form needs its own submission id.
    other = "0" * 32
    assert (
        web.post("/web/status", data={"csrf": csrf, "code": f"{other}.{old_token}"}).status_code
        == 401
    )


def test_print_view_has_code_hashes_and_a_qr_code_without_the_secret(
    web: TestClient, video: Path
) -> None:
    _, token, _ = received(web, video)
    csrf = csrf_of(web)
    r = web.post("/web/receipt/print", data={"csrf": csrf, "code": token})
    assert r.status_code == 200
    assert 'id="receipt-code"' in r.text and token in r.text
    assert sha256_of(video) in r.text
    assert "<svg" in r.text and "Código QR" in r.text
    assert status_url(web) in r.text
    assert "Entrada del registro" not in r.text
    assert "registro público de custodia" in r.text


@pytest.mark.parametrize("lang", ["es", "en"])
def test_pdf_receipt_in_the_witness_language(web: TestClient, video: Path, lang: str) -> None:
    sub_id, token, _ = received(web, video)
    web.cookies.set("portal_lang", lang)
    csrf = csrf_of(web)
    r = web.post("/web/receipt/pdf", data={"csrf": csrf, "code": token})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(r.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    title = {"es": "Recibo de entrega", "en": "Submission receipt"}[lang]
    assert title in text
    assert token in text
    assert sha256_of(video) in re.sub(r"\s", "", text)
    # The QR code leads to the status page, and holds no secret.
    image = next(iter(reader.pages[0].images)).image
    assert isinstance(image, Image.Image)
    found = zxingcpp.read_barcodes(image)
    assert [b.text for b in found] == [status_url(web)]
    assert canonical(token) not in found[0].text and sub_id not in found[0].text


def test_print_and_pdf_refuse_a_wrong_code(web: TestClient) -> None:
    csrf = csrf_of(web)
    for path in ("/web/receipt/print", "/web/receipt/pdf"):
        r = web.post(path, data={"csrf": csrf, "code": new_token()})
        assert r.status_code == 401 and "application/pdf" not in r.headers["content-type"]
        assert web.post(path, data={"code": new_token()}).status_code == 403  # no CSRF token


def test_receipt_shows_unfinished_uploads(web: TestClient, video: Path) -> None:
    """Reproduction: leaving during an upload gave a receipt saying no files arrived."""
    _, token, _ = received(web, video)
    auth = {"Authorization": f"Bearer {token}"}
    data = video.read_bytes()
    url = create_upload(web, auth, len(data) * 2, name="segundo-video.mp4")
    assert patch(web, url, auth, 0, data[: len(data) // 2]).status_code == 204
    csrf = csrf_of(web)
    r = web.post("/web/receipt", data={"csrf": csrf, "code": token})
    assert "Subidas sin terminar" in r.text and "segundo-video.mp4" in r.text
    assert sha256_of(video) in r.text  # the finished one is still there
    pdf = web.post("/web/receipt/pdf", data={"csrf": csrf, "code": token})
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "segundo-video.mp4" in text


def test_json_receipt_download_carries_what_the_pdf_shows(web: TestClient, video: Path) -> None:
    """Reproduction: the JSON download had no receipt code, where the PDF has it."""
    sub_id, token, _ = received(web, video)
    auth = {"Authorization": f"Bearer {token}"}
    data = video.read_bytes()
    url = create_upload(web, auth, len(data) * 2, name="segundo-video.mp4")
    assert patch(web, url, auth, 0, data[: len(data) // 2]).status_code == 204
    kept = web.get(f"/api/v1/submissions/{sub_id}/receipt?download=1", headers=auth).json()
    shown = {"code": token, "status_url": status_url(web)}
    assert {k: kept[k] for k in shown} == shown
    assert kept["unfinished"] == [{"name": "segundo-video.mp4", "percent": 25}]
    # Nothing the PDF does not show: each added value is printed on it too.
    csrf = csrf_of(web)
    pdf = web.post("/web/receipt/pdf", data={"csrf": csrf, "code": token})
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for value in (token, status_url(web), "segundo-video.mp4", "25"):
        assert value in text, value
    plain = web.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).json()
    assert set(kept) - set(plain) == {"code", "status_url", "unfinished"}
    # The verifier passes it, says what nothing signs, and never repeats the code.
    report = verify_receipt(kept, runtime(web).log_verifier, [video])
    assert report.ok, report.text()
    assert {"code", "status_url", "unfinished"} <= {p for p, _ in report.unverified}
    assert token not in report.text() and canonical(token) not in report.text()


def test_language_switch_on_the_upload_page_keeps_the_page(web: TestClient) -> None:
    """Reproduction: the switch led to GET /web/submissions?lang=en, a 404."""
    csrf = csrf_of(web)
    r = web.post(
        "/web/submissions",
        data={"csrf": csrf, "consent_version": "1", "scopes": ["investigation", "prosecution"]},
    )
    assert r.status_code == 200, r.text[:300]
    link = re.search(r'class="lang" href="([^"]+)"', r.text)
    assert link is not None
    assert re.fullmatch(r"/web/upload/[0-9a-f]{32}\?lang=en", link.group(1)), link.group(1)
    again = web.get(link.group(1).replace("&amp;", "&"))
    assert again.status_code == 200 and 'lang="en"' in again.text
    assert "Upload your files" in again.text


@pytest.mark.parametrize(
    ("day", "offset"),
    [("2026-07-15T22:30", timedelta(hours=-6)), ("2026-01-15T22:30", timedelta(hours=-7))],
)
def test_incident_time_without_script_takes_the_offset_of_its_own_date(
    web: TestClient, day: str, offset: timedelta
) -> None:
    """Reproduction: the offset sent was today's, an hour off across daylight saving.
    America/Ciudad_Juarez is UTC-6 in July and UTC-7 in January."""
    csrf = csrf_of(web)
    r = web.post(
        "/web/submissions",
        data={
            "csrf": csrf,
            "consent_version": "1",
            "scopes": ["investigation", "prosecution"],
            "occurred_at": day,
        },
    )
    assert r.status_code == 200, r.text[:300]
    rt = runtime(web)
    with rt.sessions() as db:
        sub = db.scalars(select(Submission).order_by(Submission.created_at.desc())).first()
        assert sub is not None and sub.incident_occurred_at is not None
        at = sub.incident_occurred_at
    local = datetime.fromisoformat(day)
    assert as_utc(at).replace(tzinfo=None) == local - offset


def test_non_media_is_refused_at_the_first_patch(web: TestClient) -> None:
    """Reproduction: a text file uploaded to 100 % before being refused."""
    _, token = received_token(web)
    auth = {"Authorization": f"Bearer {token}"}
    body = b"%PDF-1.7 not a video at all\n" + b"x" * 10_000
    url = create_upload(web, auth, 10 * len(body), name="notes.pdf")
    r = patch(web, url, auth, 0, body)
    assert r.status_code == 415
    assert r.json()["error"] == "media_type_refused" and r.json()["message"]
    rt = runtime(web)
    upload_id = url.rsplit("/", 1)[1]
    with rt.sessions() as db:
        upload = db.get(Upload, upload_id)
        assert upload is not None and upload.status == UploadState.TERMINATED
        assert upload.offset == 0
        events = db.scalars(select(LogEntry).where(LogEntry.type == "upload.terminated")).all()
        assert any(upload_id.encode() in e.event for e in events)
    # Nothing more is taken for it.
    again = patch(web, url, auth, 0, body)
    assert again.status_code in (404, 410), again.text
    assert web.head(url, headers={**TUS, **auth}).status_code in (404, 410)


def received_token(web: TestClient) -> tuple[str, str]:
    return new_submission(web)


def test_media_is_not_refused_early(web: TestClient, video: Path) -> None:
    _, token = received_token(web)
    auth = {"Authorization": f"Bearer {token}"}
    data = video.read_bytes()
    url = create_upload(web, auth, len(data))
    assert patch(web, url, auth, 0, data[:5000]).status_code == 204
    assert patch(web, url, auth, 5000, data[5000:]).status_code == 204


def test_unknown_address_is_a_page_for_browsers_and_json_for_clients(web: TestClient) -> None:
    """Reproduction: a raw JSON 404 outside /web/."""
    page = web.get("/no-such-place", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Esta página no existe." in page.text
    assert "Content-Security-Policy" in page.headers
    api = web.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["error"] == "not_found"
    # A wrong method stays a 405 with Allow.
    assert web.get("/api/v1/uploads", headers={"Accept": "text/html"}).status_code in (404, 405)


@pytest.mark.parametrize("name", ["witness.js", "portal.css", "vendor/tus.min.js"])
def test_static_files_are_sent_compressed(web: TestClient, name: str) -> None:
    plain = web.get(f"/web/static/{name}", headers={"Accept-Encoding": "identity"})
    packed = web.get(f"/web/static/{name}", headers={"Accept-Encoding": "gzip, br"})
    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.content == plain.content  # decoded by the client
    assert int(packed.headers["content-length"]) < len(plain.content) / 2
