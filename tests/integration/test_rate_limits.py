"""Rate limits on the public witness endpoints (opening a submission, creating an upload).

Past the limit: 429, `Retry-After`, the JSON error, and nothing stored or counted. Clients are
told apart by address (the one a trusted proxy names, never one an untrusted peer claims);
counters live in the shared database, so every instance sees them, and hold no address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from portal.app import create_app
from portal.clock import utcnow
from portal.config import Settings
from portal.errors import RateLimited
from portal.runtime import Runtime
from tests.support.api import CONSENT, new_submission
from tests.support.servers import Server
from tests.support.tus_requests import assert_error, b64
from tests.support.web import csrf_of

pytestmark = pytest.mark.both_backends

SUBMISSIONS = "/api/v1/submissions"
UPLOADS = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
WINDOW = timedelta(minutes=10)
INTO = timedelta(seconds=100)  # the test clock starts this far into a window
PROXY = ("10.0.0.7", 40000)
STRANGER = ("198.51.100.200", 40000)

Peer = tuple[str, int]


class Clock:
    """A settable clock for the runtime (`rt.clock`)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    """INTO past the start of a window that begins after now (windows are epoch-aligned)."""
    step = int(WINDOW.total_seconds())
    start = (int(utcnow().timestamp()) // step + 1) * step
    return Clock(datetime.fromtimestamp(start, UTC) + INTO)


def runtime(client: TestClient) -> Runtime:
    rt: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return rt


@contextmanager
def portal(
    settings: Settings,
    clock: Clock,
    *,
    peer: Peer = ("testclient", 50000),
    base_url: str = "http://testserver",
    **changes: Any,
) -> Iterator[TestClient]:
    s = settings.model_copy(update={"rate_limit_window": WINDOW, **changes})
    with TestClient(create_app(s), client=peer, base_url=base_url) as client:
        runtime(client).clock = clock
        yield client


def open_submission(client: TestClient, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    r: httpx.Response = client.post(SUBMISSIONS, json={"consent": CONSENT}, headers=headers)
    return r


def create_upload(client: TestClient, auth: dict[str, str], body: bytes = b"") -> httpx.Response:
    headers = {
        **TUS,
        **auth,
        "Upload-Length": "1000",
        "Upload-Metadata": f"filename {b64('clip.mp4')}",
    }
    if body:
        headers["Content-Type"] = "application/offset+octet-stream"
    r: httpx.Response = client.post(UPLOADS, headers=headers, content=body)
    return r


def tables(rt: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    with rt.engine.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        return {
            name: sorted(
                (tuple(row) for row in conn.execute(text(f'SELECT * FROM "{name}"'))), key=repr
            )
            for name in names
        }


def objects(rt: Runtime, request: pytest.FixtureRequest) -> list[str]:
    """Every stored object, partial and multipart upload, local or on S3."""
    url = rt.settings.resolved_storage_url
    if url.startswith("file://"):
        root = Path(url.removeprefix("file://"))
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    bucket = url.removeprefix("s3://").split("/")[0]
    s3 = request.getfixturevalue("seaweed").client()
    versions = s3.list_object_versions(Bucket=bucket)
    parts = s3.list_multipart_uploads(Bucket=bucket)
    return sorted(
        [f"{v['Key']}@{v['VersionId']}" for v in versions.get("Versions", [])]
        + [f"{u['Key']}#{u['UploadId']}" for u in parts.get("Uploads", [])]
    )


def everything(client: TestClient, request: pytest.FixtureRequest) -> tuple[object, ...]:
    rt = runtime(client)
    return tables(rt), objects(rt, request)


def counts(client: TestClient) -> list[int]:
    with runtime(client).engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT count FROM rate_counters")))


def assert_limited(r: httpx.Response, retry_after: int, *, tus: bool) -> None:
    assert_error(r, 429, "rate_limited", tus=tus)
    assert r.headers["Retry-After"] == str(retry_after)
    assert f"{retry_after} seconds" in r.json()["message"]


# --- the limit ----------------------------------------------------------------------------------


def test_submissions_past_the_limit_get_429_and_leave_nothing(
    settings: Settings, clock: Clock, request: pytest.FixtureRequest
) -> None:
    with portal(settings, clock, rate_limit_submissions=3) as client:
        for _ in range(3):
            assert open_submission(client).status_code == 201
        before = everything(client, request)
        left = int((WINDOW - INTO).total_seconds())
        assert_limited(open_submission(client), left, tus=False)
        # Refused requests are not counted: asking again does not push the end further off.
        clock.at += timedelta(seconds=60)
        assert_limited(open_submission(client), left - 60, tus=False)
        assert everything(client, request) == before
        assert counts(client) == [3]


def test_upload_creation_past_the_limit_gets_429_with_tus_headers_and_leaves_nothing(
    settings: Settings, clock: Clock, request: pytest.FixtureRequest
) -> None:
    with portal(settings, clock, rate_limit_uploads=2) as client:
        _, token = new_submission(client)
        auth = {"Authorization": f"Bearer {token}"}
        first = create_upload(client, auth)
        assert first.status_code == 201, first.text
        assert create_upload(client, auth).status_code == 201
        before = everything(client, request)
        left = int((WINDOW - INTO).total_seconds())
        assert_limited(create_upload(client, auth), left, tus=True)
        # creation-with-upload: the bytes are refused with the request, none are kept
        assert_limited(create_upload(client, auth, body=b"\0" * 500), left, tus=True)
        assert everything(client, request) == before
        # Only creation is limited: an upload already made goes on.
        r = client.patch(
            first.headers["Location"],
            content=b"\0" * 10,
            headers={
                **TUS,
                **auth,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": "0",
            },
        )
        assert r.status_code == 204, r.text
        assert r.headers["Upload-Offset"] == "10"


def test_the_next_window_starts_afresh(settings: Settings, clock: Clock) -> None:
    with portal(settings, clock, rate_limit_submissions=2) as client:
        assert [open_submission(client).status_code for _ in range(3)] == [201, 201, 429]
        clock.at += WINDOW - INTO - timedelta(seconds=1)  # the window's last second
        assert_limited(open_submission(client), 1, tus=False)
        clock.at += timedelta(seconds=1)
        assert [open_submission(client).status_code for _ in range(3)] == [201, 201, 429]
        assert open_submission(client).headers["Retry-After"] == str(int(WINDOW.total_seconds()))


def test_zero_turns_a_limit_off(settings: Settings, clock: Clock) -> None:
    with portal(settings, clock, rate_limit_submissions=0, rate_limit_uploads=0) as client:
        for _ in range(5):
            _, token = new_submission(client)
            assert create_upload(client, {"Authorization": f"Bearer {token}"}).status_code == 201
        assert counts(client) == []


# --- who is a client ----------------------------------------------------------------------------


def test_clients_behind_a_trusted_proxy_are_counted_apart(settings: Settings, clock: Clock) -> None:
    with portal(
        settings,
        clock,
        peer=PROXY,
        trusted_proxies=["10.0.0.0/8"],
        rate_limit_submissions=1,
    ) as client:
        assert open_submission(client, "198.51.100.1").status_code == 201
        assert open_submission(client, "198.51.100.2").status_code == 201
        assert open_submission(client, "198.51.100.1").status_code == 429
        # The right-most address the proxies did not add counts; what the client wrote
        # to the left of it does not.
        assert open_submission(client, "203.0.113.9, 198.51.100.1").status_code == 429
        assert open_submission(client, "198.51.100.3, 10.0.0.8").status_code == 201
        assert open_submission(client, "198.51.100.3").status_code == 429
        # IPv6 by /64: one subscriber's prefix is one client.
        assert open_submission(client, "2001:db8:1:2::10").status_code == 201
        assert open_submission(client, "2001:db8:1:2:ffff::99").status_code == 429
        assert open_submission(client, "2001:db8:1:3::10").status_code == 201
        # No header: the proxy itself is the client.
        assert open_submission(client).status_code == 201
        assert open_submission(client).status_code == 429
        # The proxy's X-Forwarded-Proto is believed too (one list of trusted proxies).
        r = client.post(
            SUBMISSIONS,
            json={"consent": CONSENT},
            headers={"X-Forwarded-For": "198.51.100.4", "X-Forwarded-Proto": "https"},
        )
        assert r.json()["upload_url"].startswith("https://"), r.text


def test_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Settings, clock: Clock) -> None:
    with portal(settings, clock, peer=STRANGER, rate_limit_submissions=2) as client:
        r = client.post(
            SUBMISSIONS,
            json={"consent": CONSENT},
            headers={"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"},
        )
        assert r.status_code == 201
        assert r.json()["upload_url"].startswith("http://"), r.text
        assert open_submission(client, "198.51.100.2").status_code == 201
        assert open_submission(client, "198.51.100.3").status_code == 429
        assert open_submission(client, "10.0.0.7").status_code == 429


def test_no_address_is_stored_or_logged(
    settings: Settings, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    addresses = ["198.51.100.1", "198.51.100.2", "2001:db8:1:2::10"]
    caplog.set_level(logging.DEBUG)
    with portal(
        settings,
        clock,
        peer=PROXY,
        trusted_proxies=["10.0.0.0/8"],
        rate_limit_submissions=1,
        rate_limit_uploads=1,
    ) as client:
        for address in addresses:
            r = open_submission(client, address)
            assert r.status_code == 201
            auth = {"Authorization": f"Bearer {r.json()['witness_token']}"}
            for status in (201, 429):
                r = client.post(
                    UPLOADS,
                    headers={**TUS, **auth, "Upload-Length": "10", "X-Forwarded-For": address},
                )
                assert r.status_code == status, r.text
            assert open_submission(client, address).status_code == 429
        assert open_submission(client).status_code == 201  # the proxy's own
        contents = tables(runtime(client))
    assert len(contents["rate_counters"]) == 2 * len(addresses) + 1
    dump = repr(contents).encode()
    needles: list[bytes] = [b"testclient", PROXY[0].encode()]
    for address in [*addresses, PROXY[0]]:
        ip = ipaddress.ip_address(address)
        forms = {str(ip), ip.exploded}
        if ip.version == 6:
            forms.add(str(ipaddress.ip_network(f"{ip}/64", strict=False)))
        for form in forms:
            needles += [form.encode(), hashlib.sha256(form.encode()).hexdigest().encode()]
        needles.append(repr(ip.packed)[2:-1].encode())
    for needle in needles:
        assert needle not in dump, needle
        assert needle.decode() not in caplog.text, needle


# --- shared by every instance -------------------------------------------------------------------


def test_two_instances_on_one_database_share_the_counters(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """Own data folders, shared database, storage and key files, as in a real deployment."""
    other = settings.model_copy(
        update={
            "data_dir": tmp_path / "second",
            "database_url": settings.resolved_database_url,
            "storage_url": settings.resolved_storage_url,
            "contact_key_file": settings.resolved_contact_key_file,
            "log_key_file": settings.resolved_log_key_file,
        }
    )
    with (
        portal(settings, clock, rate_limit_submissions=3) as a,
        portal(other, clock, rate_limit_submissions=3) as b,
    ):
        assert runtime(a).settings.data_dir != runtime(b).settings.data_dir
        assert [open_submission(a).status_code for _ in range(2)] == [201, 201]
        assert open_submission(b).status_code == 201
        assert open_submission(b).status_code == 429
        assert open_submission(a).status_code == 429
        clock.at += WINDOW
        assert runtime(b).purge_rate_counters() == 1
        assert open_submission(a).status_code == 201


def test_counting_is_atomic_under_concurrency(settings: Settings, clock: Clock) -> None:
    with portal(settings, clock, rate_limit_uploads=20) as client:
        rt = runtime(client)
        passed: list[int] = []
        refused: list[int] = []

        def knock() -> None:
            for _ in range(6):
                try:
                    rt.count_request("uploads", "198.51.100.1")
                except RateLimited:
                    refused.append(1)
                else:
                    passed.append(1)

        threads = [threading.Thread(target=knock) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert (len(passed), len(refused)) == (20, 28)
        assert counts(client) == [20]


def test_ended_windows_are_purged(settings: Settings, clock: Clock) -> None:
    with portal(settings, clock) as client:
        rt = runtime(client)
        rt.count_request("submissions", "198.51.100.1")
        rt.count_request("uploads", "198.51.100.1")
        rt.count_request("uploads", "198.51.100.2")
        assert rt.purge_rate_counters() == 0
        clock.at += WINDOW
        rt.count_request("uploads", "198.51.100.1")
        assert rt.purge_rate_counters() == 3
        assert counts(client) == [1]


# --- the witness web form -----------------------------------------------------------------------


def test_web_form_past_the_limit_keeps_what_was_typed_and_stores_nothing(
    settings: Settings, clock: Clock, request: pytest.FixtureRequest
) -> None:
    # https, as a browser off this machine would reach it: the form's cookies are Secure.
    with portal(settings, clock, base_url="https://testserver", rate_limit_submissions=1) as client:
        csrf = csrf_of(client)
        form = {"csrf": csrf, "consent_version": "1", "scopes": ["investigation"]}
        # A form sent back for correction costs nothing...
        assert client.post("/web/submissions", data={**form, "scopes": []}).status_code == 422
        assert client.post("/web/submissions", data=form).status_code == 200
        before = everything(client, request)
        what = "Lo vi desde el balcón del tercer piso"
        r = client.post("/web/submissions", data={**form, "description": what})
        assert r.status_code == 429
        assert r.headers["Retry-After"] == str(int((WINDOW - INTO).total_seconds()))
        assert "Se han abierto demasiadas entregas" in r.text
        assert "en 9 min" in r.text
        assert what in r.text
        assert everything(client, request) == before


# --- `portal serve` -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "second"),
    [(None, 429), ("", 429), ("127.0.0.1", 201)],
    ids=["default", "trust-none", "trust-loopback"],
)
def test_portal_serve_trusts_exactly_the_configured_proxies(
    tmp_path: Path, trusted: str | None, second: int
) -> None:
    """PORTAL_TRUSTED_PROXIES decides, not uvicorn's own FORWARDED_ALLOW_IPS; by default no
    one is trusted (it once trusted loopback, so behind a tunnel or onion service that does
    not set X-Forwarded-For, anyone could name a fresh address and pass every limit)."""
    env = {
        "FORWARDED_ALLOW_IPS": "*",
        "PORTAL_RATE_LIMIT_SUBMISSIONS": "1",
        **({"PORTAL_TRUSTED_PROXIES": trusted} if trusted is not None else {}),
    }
    server = Server(tmp_path / "data", env=env).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            statuses = [
                http.post(
                    SUBMISSIONS, json={"consent": CONSENT}, headers={"X-Forwarded-For": address}
                ).status_code
                for address in ("198.51.100.1", "198.51.100.2")
            ]
    finally:
        server.stop()
    assert statuses == [201, second]


# --- settings -------------------------------------------------------------------------------------


def test_trusted_proxies_are_read_as_a_list_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().trusted_proxies == []
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", " 10.0.0.1/8, 192.168.1.5 ,fd00::/64")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "192.168.1.5", "fd00::/64"]
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", "")
    assert Settings().trusted_proxies == []
    for bad in ("nginx", "*", "10.0.0.1/33"):
        monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", bad)
        with pytest.raises(ValueError, match="trusted_proxies"):
            Settings()


def test_rate_limit_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (defaults.rate_limit_submissions, defaults.rate_limit_uploads) == (30, 200)
    assert defaults.rate_limit_window == timedelta(minutes=10)
    monkeypatch.setenv("PORTAL_RATE_LIMIT_WINDOW", "3600")
    monkeypatch.setenv("PORTAL_RATE_LIMIT_UPLOADS", "0")
    s = Settings()
    assert (s.rate_limit_window, s.rate_limit_uploads) == (timedelta(hours=1), 0)
    for name, bad in [
        ("PORTAL_RATE_LIMIT_WINDOW", "0"),
        ("PORTAL_RATE_LIMIT_WINDOW", "1.5"),
        ("PORTAL_RATE_LIMIT_SUBMISSIONS", "-1"),
    ]:
        with monkeypatch.context() as m:
            m.setenv(name, bad)
            with pytest.raises(ValueError, match=name.removeprefix("PORTAL_").lower()):
                Settings()
