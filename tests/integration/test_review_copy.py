"""The review copy as a player uses it: HTTP Range for seeking (one code path with the
original's), each viewing one logged playback; and phones' portrait video made upright."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from portal.clock import utcnow
from portal.config import Settings
from portal.custody.models import LogEntry
from portal.export.verify import verify_bundle
from tests.support.api import runtime, set_clock, staff_login
from tests.support.custody import of_type
from tests.support.evidence import received
from tests.support.jobs import (
    derived_events,
    hevc_mov,
    portrait_mov,
    received_id,
    with_review_copy,
)
from tests.support.web import staff_web

pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def iphone(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return hevc_mov(tmp_path_factory.mktemp("phone")).read_bytes()


def _views(client: TestClient, item: str) -> list[dict[str, object]]:
    with runtime(client).sessions() as db:
        rows = db.scalars(
            select(LogEntry.event)
            .where(LogEntry.type == "evidence.proxy_viewed", LogEntry.subject == item)
            .order_by(LogEntry.seq)
        )
        return [json.loads(e)["details"] for e in rows]


def _log_size(client: TestClient) -> int:
    with runtime(client).sessions() as db:
        return int(db.scalar(select(func.count()).select_from(LogEntry)) or 0)


def test_the_review_copy_serves_ranges_so_the_player_can_seek(
    client: TestClient, iphone: bytes
) -> None:
    item = with_review_copy(client, iphone, "IMG_0001.MOV")
    inv = staff_login(client, "investigator", name="ines")
    url = f"/api/v1/evidence/{item}/proxy"
    whole = client.get(url, headers=inv)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    assert whole.headers["content-length"] == str(size)

    part = client.get(url, headers={**inv, "Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1099/{size}"
    assert part.content == whole.content[100:1100]
    assert part.headers["x-original-sha256"] == hashlib.sha256(iphone).hexdigest()
    tail = client.get(url, headers={**inv, "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    # One viewing, one playback (logged before the first byte), whatever the seeks.
    (opened,) = _views(client, item)
    assert {whole.headers["x-playback"], tail.headers["x-playback"]} == {opened["playback"]}


def _close_playbacks(client: TestClient, settings: Settings) -> list[dict[str, Any]]:
    """Let the idle window pass and fold the open playbacks; their `evidence.streamed`."""
    later = utcnow() + settings.playback_idle + timedelta(seconds=1)
    set_clock(client, lambda: later)
    runtime(client).close_idle_playbacks()
    return [e["details"] for e in of_type(client, "evidence.streamed")]


def test_range_requests_within_the_idle_window_are_one_playback_of_the_review_copy(
    client: TestClient, iphone: bytes, settings: Settings
) -> None:
    """A player's many Range requests are one logged playback naming the copy, its original
    and the bytes served; the original's own playback stays apart; after the idle window a
    request opens a new playback."""
    item = with_review_copy(client, iphone, "IMG_0001.MOV")
    inv = staff_login(client, "investigator", name="ines")
    url = f"/api/v1/evidence/{item}/proxy"
    for header in ("bytes=0-99", "bytes=50-199", "bytes=1000-1099", "bytes=200-299"):
        r = client.get(url, headers={**inv, "Range": header})
        assert r.status_code == 206
    played = client.get(f"/api/v1/evidence/{item}/content", headers={**inv, "Range": "bytes=0-9"})
    assert played.status_code == 206 and played.headers["x-playback"] != r.headers["x-playback"]
    (opened,) = _views(client, item)
    copy_sha256, original = r.headers["etag"].strip('"'), hashlib.sha256(iphone).hexdigest()
    assert opened["playback"] == r.headers["x-playback"]
    assert (opened["sha256"], opened["source_sha256"]) == (copy_sha256, original)

    streamed = {d["playback"]: d for d in _close_playbacks(client, settings)}
    copy_played = streamed[opened["playback"]]
    assert (copy_played["sha256"], copy_played["source_sha256"]) == (copy_sha256, original)
    assert copy_played["ranges"] == [[0, 300], [1000, 1100]]
    assert copy_played["bytes"] == 100 + 150 + 100 + 100
    assert streamed[played.headers["x-playback"]]["sha256"] == original
    assert "source_sha256" not in streamed[played.headers["x-playback"]]

    # Watching again after the window is a new playback, even naming the old one.
    again = client.get(
        url, params={"playback": opened["playback"]}, headers={**inv, "Range": "bytes=0-9"}
    )
    assert again.status_code == 206 and again.headers["x-playback"] != opened["playback"]
    assert [v["playback"] for v in _views(client, item)] == [
        opened["playback"],
        again.headers["x-playback"],
    ]


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0"])
def test_a_range_outside_the_review_copy_is_416_and_logs_nothing(
    client: TestClient, iphone: bytes, header: str
) -> None:
    item = with_review_copy(client, iphone, "IMG_0001.MOV")
    inv = staff_login(client, "investigator", name="ines")
    before = _log_size(client)
    r = client.get(f"/api/v1/evidence/{item}/proxy", headers={**inv, "Range": header})
    assert r.status_code == 416 and r.json()["error"] == "range_not_satisfiable"
    assert r.headers["content-range"].startswith("bytes */")
    assert _log_size(client) == before and _views(client, item) == []


def test_a_portrait_phone_video_gets_an_upright_review_copy_and_poster(
    client: TestClient, tmp_path: Path
) -> None:
    item = with_review_copy(client, portrait_mov(tmp_path).read_bytes(), "IMG_0002.MOV")
    (made,) = [d for d in derived_events(runtime(client), item) if "proxy" in d]
    assert (made["proxy"]["width"], made["proxy"]["height"]) == (240, 320)
    inv = staff_login(client, "investigator", name="ines")
    copy = client.get(f"/api/v1/evidence/{item}/proxy", headers=inv)
    with av.open(io.BytesIO(copy.content), "r") as c:
        frame = next(c.decode(video=0))
        assert frame.width < frame.height and frame.rotation == 0  # turned, not tagged
    poster = client.get(f"/api/v1/evidence/{item}/thumbnail", headers=inv)
    width, height = Image.open(io.BytesIO(poster.content)).size
    assert width < height


def test_a_portrait_phone_video_is_described_upright_with_its_rotation(
    client: TestClient, tmp_path: Path
) -> None:
    """The parser reads the coded (landscape) size; the detail and the staff page give the
    size as shown, and the rotation that turns one into the other."""
    item = received_id(client, portrait_mov(tmp_path).read_bytes(), "IMG_0002.MOV")
    plain = received_id(client, hevc_mov(tmp_path).read_bytes(), "IMG_0001.MOV")
    inv = staff_login(client, "investigator", name="ines")
    info = client.get(f"/api/v1/evidence/{item}", headers=inv).json()["media_info"]
    assert (info["width"], info["height"]) == (320, 240)  # as stored
    assert (info["display_width"], info["display_height"], info["rotation"]) == (240, 320, 90)
    info = client.get(f"/api/v1/evidence/{plain}", headers=inv).json()["media_info"]
    assert (info["display_width"], info["display_height"], info["rotation"]) == (
        info["width"],
        info["height"],
        0,
    )

    web = staff_web(client, "ines")
    shown = web.get(f"/web/staff/evidence/{item}?lang=en").text
    assert "240\u00d7320 (stored as 320\u00d7240, turned 90° to show)" in shown
    shown = web.get(f"/web/staff/evidence/{item}?lang=es").text
    assert "240\u00d7320 (guardado como 320\u00d7240 y girado 90° al mostrarlo)" in shown


COURT = {"version": "1", "scopes": ["investigation", "prosecution"], "language": "es"}


def test_a_court_bundle_holds_the_original_and_names_its_review_copy_as_a_copy(
    client: TestClient, iphone: bytes, tmp_path: Path
) -> None:
    item = received(client, iphone, name="IMG_0001.MOV", consent=COURT)
    (made,) = [d for d in derived_events(runtime(client), item.id) if "proxy" in d]
    inv = staff_login(client, "investigator", name="ines")
    case = client.post("/api/v1/cases", json={"title": "Balcony"}, headers=inv).json()["id"]
    linked = client.post(
        f"/api/v1/cases/{case}/evidence", json={"evidence_id": item.id}, headers=inv
    )
    assert linked.status_code == 204, linked.text
    r = client.post(f"/api/v1/cases/{case}/exports", headers=inv)
    assert r.status_code == 200, r.text
    path = tmp_path / "bundle.zip"
    path.write_bytes(r.content)
    assert verify_bundle(path, runtime(client).log_verifier).ok

    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = zf.namelist()
    (entry,) = manifest["files"]
    assert entry["sha256"] == item.sha256
    copies = {d["kind"]: d for d in entry["derivatives"]}
    assert copies["proxy"]["sha256"] == made["proxy"]["sha256"]
    assert copies["proxy"]["copy_of"] == item.sha256 and copies["proxy"]["in_bundle"] is False
    assert copies["proxy"]["leaf_index"] in entry["events"]
    # Only the original is in the bundle: nothing there has the review copy's hash or path.
    assert not [n for n in names if made["proxy"]["sha256"] in n or n.endswith("proxy.mp4")]

    # A bundle edited to pass the review copy off as the original (or to hide it) fails.
    entry["derivatives"] = []
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            data = (
                json.dumps(manifest).encode()
                if info.filename == "manifest.json"
                else src.read(info)
            )
            dst.writestr(info, data)
    report = verify_bundle(forged, runtime(client).log_verifier)
    assert any("derived copies does not match" in m for ok, m in report.checks if not ok)
