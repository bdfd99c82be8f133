"""Shares with prosecutors and defence: the code, the logged looks, revocation, expiry,
consent scope, throttling and the bundle."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from portal.config import Settings
from portal.custody.models import LogEntry
from portal.export.verify import verify_bundle
from portal.shares.models import Share
from tests.support.api import runtime, set_clock
from tests.support.shares import (
    INVESTIGATION_ONLY,
    add_item,
    case_with_item,
    make_share,
    sign_in,
    supervisor_pages,
)
from tests.support.web import web_app

HTTPS = "https://testserver"

pytestmark = pytest.mark.both_backends


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


def _events(web: TestClient, type_: str) -> list[LogEntry]:
    with runtime(web).sessions() as db:
        return list(db.scalars(select(LogEntry).where(LogEntry.type == type_)))


def test_a_recipient_signs_in_once_and_every_look_is_logged(web: TestClient, video: Path) -> None:
    auth = supervisor_pages(web)
    case_id, item = case_with_item(web, auth, video)
    share_id, code = make_share(web, case_id)
    assert len(_events(web, "share.created")) == 1
    assert sign_in(web, share_id, code).status_code == 303
    page = web.get(f"/web/share/{share_id}/items?lang=en")
    assert page.status_code == 200 and item in page.text
    # No witness identity and no case title unless the supervisor includes them.
    assert "clip.mp4" not in page.text and "Juárez" not in page.text
    assert "Lic. Marta Ruiz" in page.text  # the page's watermark
    part = web.get(f"/web/share/{share_id}/items/{item}/content", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    # The player's range requests are one playback, logged as staff playbacks are.
    more = web.get(f"/web/share/{share_id}/items/{item}/content", headers={"Range": "bytes=50-199"})
    assert more.status_code == 206 and len(more.content) == 150
    (opened,) = _events(web, "evidence.stream_opened")
    assert opened.subject == item and json.loads(opened.event)["actor"] == f"share:{share_id}"
    assert _events(web, "evidence.streamed") == []
    later = runtime(web).clock() + runtime(web).settings.playback_idle * 2
    set_clock(web, lambda: later)
    assert runtime(web).close_idle_playbacks() == 1
    (streamed,) = _events(web, "evidence.streamed")
    event = json.loads(streamed.event)
    assert event["actor"] == f"share:{share_id}" and event["details"]["ranges"] == [[0, 200]]
    assert json.loads(_events(web, "share.listed")[0].event)["actor"] == f"share:{share_id}"
    # View-only: no download, nothing logged.
    refused = web.get(f"/web/share/{share_id}/items/{item}/content?download=1&lang=en")
    assert refused.status_code == 403 and "viewing, not downloading" in refused.text
    assert _events(web, "share.downloaded") == []
    # The code was spent: a second sign-in with it is refused.
    again = sign_in(web, share_id, code)
    assert again.status_code == 401


def test_a_revoked_share_stops_mid_session_and_says_so(web: TestClient, video: Path) -> None:
    auth = supervisor_pages(web)
    case_id, item = case_with_item(web, auth, video)
    share_id, code = make_share(web, case_id)
    assert sign_in(web, share_id, code).status_code == 303
    assert web.get(f"/web/share/{share_id}/items").status_code == 200
    csrf = web.cookies.get("__Host-portal_csrf") or ""
    from tests.support.web import csrf_of

    csrf = csrf_of(web, "/web/staff/shares")
    r = web.post(
        f"/web/staff/shares/{share_id}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert len(_events(web, "share.revoked")) == 1
    for path in ("/items", f"/items/{item}/content", ""):
        es = web.get(f"/web/share/{share_id}{path}?lang=es")
        assert es.status_code == 410 and "fue revocado" in es.text and "Juárez" not in es.text
    en = web.get(f"/web/share/{share_id}/items?lang=en")
    assert "was revoked" in en.text


def test_an_expired_share_says_so(web: TestClient, video: Path) -> None:
    auth = supervisor_pages(web)
    case_id, _ = case_with_item(web, auth, video)
    share_id, code = make_share(web, case_id, days="1")
    later = runtime(web).clock() + timedelta(days=2)
    set_clock(web, lambda: later)
    r = web.get(f"/web/share/{share_id}?lang=en")
    assert r.status_code == 410 and "has expired" in r.text
    assert sign_in_status(web, share_id, code) == 410


def sign_in_status(web: TestClient, share_id: str, code: str) -> int:
    csrf = web.cookies.get("portal_csrf") or web.cookies.get("__Host-portal_csrf") or ""
    r = web.post(f"/web/share/{share_id}", data={"code": code, "csrf": csrf})
    return int(r.status_code)


def test_wrong_codes_get_one_answer_and_count_toward_the_wait(web: TestClient, video: Path) -> None:
    auth = supervisor_pages(web)
    case_id, _ = case_with_item(web, auth, video)
    share_id, code = make_share(web, case_id)
    unknown = sign_in(web, "0" * 32, "ABCDEFGHJK")
    answers = [sign_in(web, share_id, "ABCDEFGHJK") for _ in range(5)]
    assert {a.status_code for a in answers} == {401} and unknown.status_code == 401
    assert {a.text.count("no es válido") for a in [*answers, unknown]} == {1}
    # Past the allowed failures, even the right code waits (and the wait is not stretched).
    assert sign_in(web, share_id, code).status_code == 401
    with runtime(web).sessions() as db:
        share = db.get(Share, share_id)
        assert share is not None and share.failed_codes == 5 and share.code_hash is not None
    assert len(_events(web, "share.sign_in_failed")) == 6


def test_items_without_court_consent_are_refused_by_name(web: TestClient, video: Path) -> None:
    auth = supervisor_pages(web)
    case_id, item = case_with_item(web, auth, video, consent=INVESTIGATION_ONLY)
    before = _count(web)
    from tests.support.web import csrf_of

    data = {"case_id": case_id, "recipient": "X", "days": "7"}
    data["csrf"] = csrf_of(web, "/web/staff/shares")
    r = web.post("/web/staff/shares?lang=en", data=data)
    assert r.status_code == 422 and item in r.text and "prosecution" in r.text
    assert _count(web) == before


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"recipient": "   "}, 422),
        ({"days": "0"}, 422),
        ({"days": "400"}, 422),
        ({"items": "not-an-item"}, 422),
        ({"case_id": "nope"}, 404),
    ],
)
def test_bad_share_forms_change_nothing(
    web: TestClient, video: Path, form: dict[str, str], status: int
) -> None:
    from tests.support.web import csrf_of

    auth = supervisor_pages(web)
    case_id, _ = case_with_item(web, auth, video)
    before = _count(web)
    data = {"case_id": case_id, "recipient": "Lic. Marta Ruiz", "days": "7", **form}
    data["csrf"] = csrf_of(web, "/web/staff/shares")
    assert web.post("/web/staff/shares", data=data).status_code == status
    assert _count(web) == before


def test_an_investigator_may_not_share(web: TestClient) -> None:
    from tests.support.api import PASSWORD, staff_login
    from tests.support.web import csrf_of

    staff_login(web, "investigator", name="ivan")
    csrf = csrf_of(web, "/web/staff/login")
    web.post("/web/staff/login", data={"username": "ivan", "password": PASSWORD, "csrf": csrf})
    assert web.get("/web/staff/shares").status_code == 403


def test_the_recipient_downloads_the_original_and_a_bundle_that_verifies(
    web: TestClient, video: Path
) -> None:
    auth = supervisor_pages(web)
    case_id, item = case_with_item(web, auth, video)
    share_id, code = make_share(web, case_id, download="1")
    assert sign_in(web, share_id, code).status_code == 303
    whole = web.get(f"/web/share/{share_id}/items/{item}/content?download=1")
    assert whole.status_code == 200 and whole.content == video.read_bytes()
    assert len(_events(web, "share.downloaded")) == 1
    bundle = web.get(f"/web/share/{share_id}/bundle")
    assert bundle.status_code == 200
    exported = _events(web, "evidence.exported")
    assert [json.loads(e.event)["actor"] for e in exported] == [f"share:{share_id}"]
    path = Path(runtime(web).settings.data_dir) / "bundle.zip"
    path.write_bytes(bundle.content)
    assert zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    report = verify_bundle(path, runtime(web).log_verifier)
    assert report.ok, report


def _count(web: TestClient) -> tuple[int, int]:
    """Shares and log entries, but the media jobs' own (which may land at any moment)."""
    with runtime(web).sessions() as db:
        return (
            db.scalar(select(func.count()).select_from(Share)) or 0,
            db.scalar(
                select(func.count())
                .select_from(LogEntry)
                # Media jobs and background signing rounds log on their own at any moment.
                .where(LogEntry.type.not_in(["evidence.derived", "log.checkpoint_signed"]))
            )
            or 0,
        )


def test_a_share_of_chosen_items_bundles_them_whatever_the_rest_of_the_case(
    web: TestClient, video: Path
) -> None:
    auth = supervisor_pages(web)
    case_id, item = case_with_item(web, auth, video)
    # Another item of the case whose witness allowed investigation only: not shared.
    other = add_item(web, auth, case_id, video, consent=INVESTIGATION_ONLY)
    share_id, code = make_share(web, case_id, download="1", items=item)
    assert sign_in(web, share_id, code).status_code == 303
    bundle = web.get(f"/web/share/{share_id}/bundle")
    assert bundle.status_code == 200, bundle.text
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(bundle.content)).read("manifest.json"))
    assert [f["evidence_id"] for f in manifest["files"]] == [item] and other != item
    path = Path(runtime(web).settings.data_dir) / "bundle.zip"
    path.write_bytes(bundle.content)
    assert verify_bundle(path, runtime(web).log_verifier).ok
