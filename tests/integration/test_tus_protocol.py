"""tus 1.0.0 over raw HTTP: core protocol and the six advertised extensions.

Every refusal is checked three ways: the status code, the `{"error", "message"}` body (HEAD
responses have none) with the tus headers, and that nothing stored changed.
"""

from __future__ import annotations

import hashlib
import json
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.clock import utcnow
from portal.config import Settings
from portal.custody import service as custody
from portal.flows import finalise
from tests.support.api import new_submission, runtime
from tests.support.tus_requests import (
    OCTET,
    TUS,
    TUS_VERSION,
    UPLOADS,
    Witness,
    assert_error,
    b64,
    bearer,
    create_upload,
    files_of,
    head,
    offset_of,
    partial_path,
    patch,
    storage_root,
    stored,
    upload_id_of,
)

EXTENSIONS = {
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "expiration",
    "termination",
    "checksum",
}


def checksum(algo: str, data: bytes) -> str:
    return f"{algo} {b64(hashlib.new(algo, data).digest())}"


def http_date(value: str) -> datetime:
    at = parsedate_to_datetime(value)
    assert value.endswith(" GMT"), value
    assert at.tzinfo is not None
    return at


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """A portal built with chosen settings, e.g. make_client(max_upload_size=1000)."""
    with ExitStack() as stack:
        count = 0

        def make(**overrides: Any) -> TestClient:
            nonlocal count
            count += 1
            settings = Settings(data_dir=tmp_path / f"custom-{count}", **overrides)
            return stack.enter_context(TestClient(create_app(settings)))

        yield make


# --- discovery and creation ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [UPLOADS, f"{UPLOADS}/0123456789abcdef0123456789abcdef"])
def test_options_advertises_the_server(client: TestClient, settings: Settings, path: str) -> None:
    r = client.options(path)
    assert r.status_code in (200, 204)
    assert r.headers["Tus-Version"].split(",")[0].strip() == TUS_VERSION
    assert TUS_VERSION in {v.strip() for v in r.headers["Tus-Version"].split(",")}
    assert {e.strip() for e in r.headers["Tus-Extension"].split(",")} == EXTENSIONS
    assert int(r.headers["Tus-Max-Size"]) == settings.max_upload_size
    algos = {a.strip() for a in r.headers["Tus-Checksum-Algorithm"].split(",")}
    assert {"sha1", "sha256"} <= algos


def test_options_reports_a_custom_max_size(make_client: ClientFactory) -> None:
    small = make_client(max_upload_size=12345)
    r = small.options(UPLOADS)
    assert r.headers["Tus-Max-Size"] == "12345"


def test_creation_returns_absolute_location_and_expiry(
    client: TestClient, settings: Settings, witness: Witness
) -> None:
    _, auth = witness
    before = utcnow()
    r = client.post(
        UPLOADS,
        headers={
            **TUS,
            **auth,
            "Upload-Length": "1000",
            "Upload-Metadata": f"filename {b64('balcony.mp4')}",
        },
    )
    assert r.status_code == 201, r.text
    assert r.headers["Tus-Resumable"] == TUS_VERSION
    location = r.headers["Location"]
    parsed = httpx.URL(location)
    assert parsed.is_absolute_url
    assert parsed.scheme in ("http", "https")
    assert parsed.path.startswith(f"{UPLOADS}/")
    assert upload_id_of(location)
    expires = http_date(r.headers["Upload-Expires"])
    expected = before + settings.upload_expiry
    assert abs((expires - expected).total_seconds()) < 60
    assert partial_path(client, location).stat().st_size == 0
    head_r = head(client, location, auth)
    assert head_r.status_code == 200
    assert head_r.headers["Upload-Offset"] == "0"


def test_head_reports_offset_and_length(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    url = create_upload(client, auth, 1000)
    assert patch(client, url, auth, b"x" * 300, 0).status_code == 204
    r = head(client, url, auth)
    assert r.status_code == 200
    assert r.headers["Upload-Offset"] == "300"
    assert r.headers["Upload-Length"] == "1000"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Tus-Resumable"] == TUS_VERSION
    assert "Upload-Defer-Length" not in r.headers
    http_date(r.headers["Upload-Expires"])
    assert r.content == b""


def test_head_of_a_deferred_length_upload(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    url = create_upload(client, auth, None)
    r = head(client, url, auth)
    assert r.status_code == 200
    assert r.headers["Upload-Defer-Length"] == "1"
    assert "Upload-Length" not in r.headers
    assert r.headers["Upload-Offset"] == "0"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Tus-Resumable"] == TUS_VERSION


def test_patch_returns_the_new_offset(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    url = create_upload(client, auth, 1000)
    r = patch(client, url, auth, b"a" * 400, 0)
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == "400"
    assert r.headers["Tus-Resumable"] == TUS_VERSION
    http_date(r.headers["Upload-Expires"])
    assert r.content == b""
    r = patch(client, url, auth, b"b" * 100, 400)
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == "500"
    assert offset_of(client, url, auth) == 500
    assert partial_path(client, url).read_bytes() == b"a" * 400 + b"b" * 100


@pytest.mark.parametrize("whole", [False, True], ids=["first-half", "whole-file"])
def test_creation_with_upload(
    client: TestClient, witness: Witness, video: Path, whole: bool
) -> None:
    sub_id, auth = witness
    data = video.read_bytes()
    first = data if whole else data[: len(data) // 2]
    r = client.post(
        UPLOADS,
        content=first,
        headers={
            **TUS,
            **auth,
            "Upload-Length": str(len(data)),
            "Content-Type": OCTET,
            "Upload-Metadata": f"filename {b64('balcony.mp4')}",
        },
    )
    assert r.status_code == 201, r.text
    assert r.headers["Upload-Offset"] == str(len(first))
    assert r.headers["Tus-Resumable"] == TUS_VERSION
    url = r.headers["Location"]
    assert httpx.URL(url).is_absolute_url
    if not whole:
        assert offset_of(client, url, auth) == len(first)
        r = patch(client, url, auth, data[len(first) :], len(first))
        assert r.status_code == 204, r.text
        assert r.headers["Upload-Offset"] == str(len(data))
    files = files_of(client, sub_id, auth)
    assert [f["sha256"] for f in files] == [hashlib.sha256(data).hexdigest()]


def test_creation_with_a_failed_first_chunk_says_where_to_resume(
    client: TestClient, witness: Witness, video: Path
) -> None:
    sub_id, auth = witness
    data = video.read_bytes()
    half = data[: len(data) // 2]
    r = client.post(
        UPLOADS,
        content=half,
        headers={
            **TUS,
            **auth,
            "Upload-Length": str(len(data)),
            "Content-Type": OCTET,
            "Upload-Checksum": checksum("sha256", b"not these bytes"),
        },
    )
    assert_error(r, 460, "checksum_mismatch")
    url = r.headers["Location"]
    assert offset_of(client, url, auth) == 0  # the chunk was dropped, the upload kept
    assert patch(client, url, auth, data, 0).status_code == 204
    files = files_of(client, sub_id, auth)
    assert [f["sha256"] for f in files] == [hashlib.sha256(data).hexdigest()]


def test_defer_length_then_length_on_a_later_patch_completes(
    client: TestClient, witness: Witness, video: Path
) -> None:
    sub_id, auth = witness
    data = video.read_bytes()
    half = len(data) // 2
    url = create_upload(client, auth, None)
    r = patch(client, url, auth, data[:half], 0)
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == str(half)
    assert head(client, url, auth).headers["Upload-Defer-Length"] == "1"
    r = patch(client, url, auth, data[half:], half, {"Upload-Length": str(len(data))})
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == str(len(data))
    h = head(client, url, auth)
    assert h.headers["Upload-Length"] == str(len(data))
    assert h.headers["Upload-Offset"] == str(len(data))
    assert "Upload-Defer-Length" not in h.headers
    files = files_of(client, sub_id, auth)
    assert [f["size"] for f in files] == [len(data)]
    assert files[0]["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("algo", ["sha1", "sha256"])
def test_correct_checksum_is_accepted(
    client: TestClient, witness: Witness, video: Path, algo: str
) -> None:
    sub_id, auth = witness
    data = video.read_bytes()
    half = len(data) // 2
    url = create_upload(client, auth, len(data))
    r = patch(client, url, auth, data[:half], 0, {"Upload-Checksum": checksum(algo, data[:half])})
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == str(half)
    r = patch(
        client, url, auth, data[half:], half, {"Upload-Checksum": checksum(algo, data[half:])}
    )
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == str(len(data))
    assert [f["sha256"] for f in files_of(client, sub_id, auth)] == [
        hashlib.sha256(data).hexdigest()
    ]


def test_completed_original_is_stored_read_only_by_hash(
    client: TestClient, witness: Witness, video: Path
) -> None:
    sub_id, auth = witness
    data = video.read_bytes()
    url = create_upload(client, auth, len(data))
    assert patch(client, url, auth, data, 0).status_code == 204
    digest = hashlib.sha256(data).hexdigest()
    original = storage_root(client) / "sha256" / digest
    assert original.is_file()
    assert original.read_bytes() == data
    assert stat.S_IMODE(original.stat().st_mode) & 0o222 == 0
    assert not partial_path(client, url).exists()
    h = head(client, url, auth)
    assert h.status_code == 200
    assert h.headers["Upload-Offset"] == h.headers["Upload-Length"] == str(len(data))
    files = files_of(client, sub_id, auth)
    assert [(f["sha256"], f["size"], f["name"]) for f in files] == [
        (digest, len(data), "balcony.mp4")
    ]
    assert files[0]["media_type"].startswith("video/")
    snap = stored(client)
    assert [row for row in snap.rows["evidence"]] != []
    assert f"sha256/{digest}" in snap.files


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0", "2.0.0", ""])
@pytest.mark.parametrize("method", ["POST", "HEAD", "PATCH", "DELETE"])
def test_412_for_missing_or_wrong_tus_resumable(
    client: TestClient, witness: Witness, method: str, version: str | None
) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    assert patch(client, url, auth, b"z" * 10, 0).status_code == 204
    before = stored(client)
    headers = {**auth, "Upload-Length": "100", "Upload-Offset": "10", "Content-Type": OCTET}
    if version is not None:
        headers["Tus-Resumable"] = version
    target = UPLOADS if method == "POST" else url
    body = b"y" * 10 if method in ("POST", "PATCH") else None
    r = client.request(method, target, headers=headers, content=body)
    assert_error(r, 412, "tus_version")
    assert TUS_VERSION in {v.strip() for v in r.headers["Tus-Version"].split(",")}
    assert stored(client) == before
    assert offset_of(client, url, auth) == 10


@pytest.mark.parametrize(
    "content_type", [None, "application/octet-stream", "text/plain", "application/json"]
)
def test_415_for_a_patch_with_the_wrong_content_type(
    client: TestClient, witness: Witness, content_type: str | None
) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    before = stored(client)
    headers = {**TUS, **auth, "Upload-Offset": "0"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    r = client.patch(url, content=b"q" * 10, headers=headers)
    assert_error(r, 415)
    assert stored(client) == before
    assert offset_of(client, url, auth) == 0


@pytest.mark.parametrize("sent", [0, 5, 11, 1000])
def test_409_for_an_offset_mismatch(client: TestClient, witness: Witness, sent: int) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    assert patch(client, url, auth, b"m" * 10, 0).status_code == 204
    before = stored(client)
    r = patch(client, url, auth, b"n" * 10, sent)
    assert_error(r, 409, "offset_mismatch")
    assert stored(client) == before
    assert offset_of(client, url, auth) == 10
    assert partial_path(client, url).read_bytes() == b"m" * 10


def test_413_for_an_upload_length_over_the_max_size(make_client: ClientFactory) -> None:
    small = make_client(max_upload_size=1000)
    _, token = new_submission(small)
    auth = bearer(token)
    before = stored(small)
    r = small.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": "1001"})
    assert_error(r, 413, "upload_too_large")
    assert stored(small) == before
    url = create_upload(small, auth, 1000)
    assert small.options(UPLOADS).headers["Tus-Max-Size"] == "1000"
    assert head(small, url, auth).headers["Upload-Length"] == "1000"


def test_413_for_a_deferred_length_set_over_the_max_size(make_client: ClientFactory) -> None:
    small = make_client(max_upload_size=1000)
    _, token = new_submission(small)
    auth = bearer(token)
    url = create_upload(small, auth, None)
    assert patch(small, url, auth, b"d" * 100, 0).status_code == 204
    before = stored(small)
    r = patch(small, url, auth, b"d" * 100, 100, {"Upload-Length": "1001"})
    assert_error(r, 413)
    assert stored(small) == before
    assert offset_of(small, url, auth) == 100
    assert head(small, url, auth).headers["Upload-Defer-Length"] == "1"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_413_for_a_deferred_body_over_the_max_size(
    make_client: ClientFactory, chunked: bool
) -> None:
    small = make_client(max_upload_size=1000)
    _, token = new_submission(small)
    auth = bearer(token)
    url = create_upload(small, auth, None)
    assert patch(small, url, auth, b"d" * 600, 0).status_code == 204
    before = stored(small)
    body = b"e" * 600
    content: bytes | Iterator[bytes] = iter([body[:300], body[300:]]) if chunked else body
    r = small.patch(
        url,
        content=content,
        headers={**TUS, **auth, "Upload-Offset": "600", "Content-Type": OCTET},
    )
    assert_error(r, 413)
    assert stored(small) == before
    assert offset_of(small, url, auth) == 600
    assert partial_path(small, url).stat().st_size == 600


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_413_when_a_patch_body_runs_past_upload_length(
    client: TestClient, witness: Witness, chunked: bool
) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    assert patch(client, url, auth, b"p" * 60, 0).status_code == 204
    before = stored(client)
    body = b"r" * 50
    content: bytes | Iterator[bytes] = iter([body[:25], body[25:]]) if chunked else body
    r = client.patch(
        url, content=content, headers={**TUS, **auth, "Upload-Offset": "60", "Content-Type": OCTET}
    )
    assert_error(r, 413, "past_length")
    assert stored(client) == before
    assert offset_of(client, url, auth) == 60
    assert partial_path(client, url).read_bytes() == b"p" * 60


def test_413_when_a_creation_body_runs_past_upload_length(
    client: TestClient, witness: Witness
) -> None:
    _, auth = witness
    before = stored(client)
    r = client.post(
        UPLOADS,
        content=b"s" * 101,
        headers={**TUS, **auth, "Upload-Length": "100", "Content-Type": OCTET},
    )
    assert_error(r, 413, "past_length")
    assert stored(client) == before


def test_415_for_a_creation_body_with_the_wrong_content_type(
    client: TestClient, witness: Witness
) -> None:
    _, auth = witness
    before = stored(client)
    r = client.post(
        UPLOADS,
        content=b"s" * 10,
        headers={**TUS, **auth, "Upload-Length": "100", "Content-Type": "text/plain"},
    )
    assert_error(r, 415)
    assert stored(client) == before


@pytest.mark.parametrize("algo", ["sha1", "sha256"])
def test_460_checksum_mismatch_discards_the_chunk(
    client: TestClient, witness: Witness, algo: str
) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    assert patch(client, url, auth, b"c" * 40, 0).status_code == 204
    before = stored(client)
    r = patch(client, url, auth, b"w" * 30, 40, {"Upload-Checksum": checksum(algo, b"x" * 30)})
    assert_error(r, 460, "checksum_mismatch")
    assert stored(client) == before
    assert offset_of(client, url, auth) == 40
    assert partial_path(client, url).read_bytes() == b"c" * 40
    # The chunk can be sent again, correctly this time.
    r = patch(client, url, auth, b"w" * 30, 40, {"Upload-Checksum": checksum(algo, b"w" * 30)})
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == "70"


@pytest.mark.parametrize(
    "header",
    [f"md5 {b64(hashlib.md5(b'k' * 10).digest())}", "crc32 AAAAAA==", "SHA256 AAAA", "sha512 AA=="],
)
def test_400_for_an_unsupported_checksum_algorithm(
    client: TestClient, witness: Witness, header: str
) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    before = stored(client)
    r = patch(client, url, auth, b"k" * 10, 0, {"Upload-Checksum": header})
    assert_error(r, 400)
    assert stored(client) == before
    assert offset_of(client, url, auth) == 0


def test_400_for_a_checksum_that_is_not_base64(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    before = stored(client)
    r = patch(client, url, auth, b"k" * 10, 0, {"Upload-Checksum": "sha1 not*base64!"})
    assert_error(r, 400)
    assert stored(client) == before


def test_delete_terminates_the_upload(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    assert patch(client, url, auth, b"t" * 10, 0).status_code == 204
    partial = partial_path(client, url)
    assert partial.exists()
    r = client.delete(url, headers={**TUS, **auth})
    assert r.status_code == 204, r.text
    assert r.headers["Tus-Resumable"] == TUS_VERSION
    assert not partial.exists()
    assert_error(head(client, url, auth), 404)
    assert_error(patch(client, url, auth, b"t", 10), 404)
    assert_error(client.delete(url, headers={**TUS, **auth}), 404)
    assert not partial.exists()


def _expire_by_clock(client: TestClient) -> None:
    runtime(client).clock = lambda: utcnow() + timedelta(days=30)


@pytest.mark.parametrize("method", ["HEAD", "PATCH", "DELETE"])
def test_410_for_an_expired_upload(client: TestClient, witness: Witness, method: str) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    assert patch(client, url, auth, b"e" * 10, 0).status_code == 204
    _expire_by_clock(client)
    before = stored(client)
    headers = {**TUS, **auth, "Upload-Offset": "10", "Content-Type": OCTET}
    body = b"e" * 10 if method == "PATCH" else None
    r = client.request(method, url, headers=headers, content=body)
    assert_error(r, 410, "gone")
    assert stored(client) == before


def test_the_sweep_ends_expired_uploads_and_frees_their_bytes(
    client: TestClient, witness: Witness, video: Path
) -> None:
    _, auth = witness
    data = video.read_bytes()
    stale = create_upload(client, auth, 100)
    assert patch(client, stale, auth, b"s" * 10, 0).status_code == 204
    done = create_upload(client, auth, len(data))
    assert patch(client, done, auth, data, 0).status_code == 204
    rt = runtime(client)
    assert finalise.sweep_uploads(rt) == 0  # nothing has expired yet
    assert partial_path(client, stale).exists()

    _expire_by_clock(client)
    fresh = create_upload(client, auth, 100)  # created after the clock moved: not expired
    assert patch(client, fresh, auth, b"f" * 10, 0).status_code == 204
    assert finalise.sweep_uploads(rt) == 1
    assert not partial_path(client, stale).exists()
    assert partial_path(client, fresh).exists()
    assert_error(head(client, stale, auth), 410)
    assert head(client, done, auth).status_code == 200  # completed uploads are not touched
    with rt.sessions() as db:
        logged = [
            json.loads(e.event) for e in custody.entries(db, start=0, end=custody.tree_size(db))
        ]
    ended = [e for e in logged if e["type"] == "upload.terminated"]
    assert [e["details"]["reason"] for e in ended] == ["expired"]
    assert ended[0]["details"]["upload"] == upload_id_of(stale)
    assert finalise.sweep_uploads(rt) == 0  # once


def test_410_with_a_tiny_upload_expiry_setting(make_client: ClientFactory) -> None:
    quick = make_client(upload_expiry=timedelta(milliseconds=1))
    _, token = new_submission(quick)
    auth = bearer(token)
    r = quick.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": "100"})
    assert r.status_code == 201, r.text
    url = r.headers["Location"]
    assert http_date(r.headers["Upload-Expires"]) <= datetime.now(UTC) + timedelta(seconds=2)
    time.sleep(0.05)
    before = stored(quick)
    assert_error(head(quick, url, auth), 410)
    assert_error(patch(quick, url, auth, b"x" * 10, 0), 410, "gone")
    assert stored(quick) == before


@pytest.mark.parametrize("upload_id", ["0123456789abcdef0123456789abcdef", "nope"])
@pytest.mark.parametrize("method", ["HEAD", "PATCH", "DELETE"])
def test_404_for_an_unknown_upload(
    client: TestClient, witness: Witness, method: str, upload_id: str
) -> None:
    _, auth = witness
    create_upload(client, auth, 100)
    before = stored(client)
    headers = {**TUS, **auth, "Upload-Offset": "0", "Content-Type": OCTET}
    body = b"u" * 10 if method == "PATCH" else None
    r = client.request(method, f"{UPLOADS}/{upload_id}", headers=headers, content=body)
    assert_error(r, 404, "not_found")
    assert stored(client) == before


@pytest.mark.parametrize("method", ["HEAD", "PATCH", "DELETE"])
def test_another_witness_cannot_see_the_upload(
    client: TestClient, witness: Witness, method: str
) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    assert patch(client, url, auth, b"o" * 10, 0).status_code == 204
    _, other_token = new_submission(client)
    other = bearer(other_token)
    before = stored(client)
    headers = {**TUS, **other, "Upload-Offset": "10", "Content-Type": OCTET}
    body = b"o" * 10 if method == "PATCH" else None
    r = client.request(method, url, headers=headers, content=body)
    assert_error(r, 404, "not_found")
    assert stored(client) == before
    assert offset_of(client, url, auth) == 10
    assert partial_path(client, url).read_bytes() == b"o" * 10


@pytest.mark.parametrize("failure", ["checksum", "past-length-chunked"])
def test_a_refused_patch_does_not_set_a_deferred_length(
    client: TestClient, witness: Witness, failure: str
) -> None:
    """A refused PATCH changes nothing, including the Upload-Length it carried."""
    _, auth = witness
    url = create_upload(client, auth, None)
    assert patch(client, url, auth, b"l" * 10, 0).status_code == 204
    before = stored(client)
    headers = {**TUS, **auth, "Upload-Offset": "10", "Content-Type": OCTET, "Upload-Length": "30"}
    content: bytes | Iterator[bytes]
    if failure == "checksum":
        headers["Upload-Checksum"] = checksum("sha256", b"something else")
        content = b"l" * 10
        expected = 460
    else:
        content = iter([b"l" * 15, b"l" * 15])
        expected = 413
    r = client.patch(url, content=content, headers=headers)
    assert_error(r, expected)
    h = head(client, url, auth)
    assert h.headers["Upload-Offset"] == "10"
    assert h.headers.get("Upload-Defer-Length") == "1"
    assert "Upload-Length" not in h.headers
    assert stored(client) == before
