"""Invisible characters in names, caching of witness and evidence data, the API docs pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from tests.support.api import staff_login
from tests.support.evidence import received
from tests.support.tus_requests import TUS, UPLOADS, Witness, assert_error, b64, stored

INVISIBLE = {
    "lrm": "clip\u200e.mp4",
    "rlm": "\u200fclip.mp4",
    "arabic-letter-mark": "clip\u061c.mp4",
    "line-separator": "clip\u2028.mp4",
    "paragraph-separator": "clip\u2029.mp4",
    "zero-width-space": "cl\u200bip.mp4",
    "zero-width-joiner": "cl\u200dip.mp4",
    "soft-hyphen": "cl\u00adip.mp4",
    "bom": "\ufeffclip.mp4",
    "word-joiner": "clip\u2060.mp4",
}


@pytest.mark.parametrize("name", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_invisible_characters_in_file_names_are_422(
    client: TestClient, witness: Witness, name: str
) -> None:
    _, auth = witness
    before = stored(client)
    r = client.post(
        UPLOADS,
        headers={**TUS, **auth, "Upload-Length": "100", "Upload-Metadata": f"filename {b64(name)}"},
    )
    assert_error(r, 422, "bad_filename")
    assert stored(client) == before


def test_names_in_other_scripts_still_pass(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    name = "بلكون-مقطع ñandú 視頻.mp4"
    r = client.post(
        UPLOADS,
        headers={**TUS, **auth, "Upload-Length": "100", "Upload-Metadata": f"filename {b64(name)}"},
    )
    assert r.status_code == 201, r.text


def test_witness_and_evidence_answers_are_not_cached(client: TestClient, video: Path) -> None:
    item = received(client, video.read_bytes())
    staff = staff_login(client, "investigator")
    answers = {
        "submission": client.get(f"/api/v1/submissions/{item.submission_id}", headers=item.witness),
        "evidence": client.get(f"/api/v1/evidence/{item.id}", headers=staff),
        "queue": client.get("/api/v1/evidence", headers=staff),
        "refusal": client.get("/api/v1/evidence/nope", headers=staff),
        "page": client.get("/web/", follow_redirects=False),
    }
    for what, r in answers.items():
        assert r.headers.get("cache-control") == "no-store", what
    # A static asset keeps its own policy.
    css = client.get("/web/static/portal.css")
    if css.status_code == 200:
        assert "max-age" in css.headers["cache-control"]


def test_api_docs_pages_are_off_by_default(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "cdn" not in r.text
    assert client.get("/openapi.json").status_code == 200


def test_api_docs_pages_can_be_turned_on(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", api_docs=True))) as c:
        assert c.get("/docs").status_code == 200
