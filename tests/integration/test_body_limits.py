"""Request bodies are bounded while they arrive, before anything parses them (issue: 400 MiB of
JSON to an unauthenticated route raised the server's RSS to 1.36 GB before a 422)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from portal.config import Settings
from tests.support.api import CONSENT
from tests.support.custody import log_size
from tests.support.servers import Server

LIMIT = Settings().max_body_size
OVER = b'{"consent": {"version": "1"}, "pad": "' + b"x" * LIMIT + b'"}'
FORM_OVER = b"username=" + b"x" * LIMIT + b"&password=p"
FORM = "application/x-www-form-urlencoded"


def chunks(data: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    # A generator: httpx sends it chunked, with no Content-Length to refuse it by.
    for at in range(0, len(data), size):
        yield data[at : at + size]


def assert_too_large(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "too_large"
    assert str(LIMIT) in r.json()["message"]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/api/v1/submissions", "application/json"),
        ("/api/v1/cases", "application/json"),
        ("/api/v1/auth/login", FORM),
        ("/web/staff/login", FORM),
        ("/web/submissions", FORM),
    ],
)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_and_changes_nothing(
    client: TestClient, path: str, kind: str, declared: bool
) -> None:
    # /api/v1/cases needs a staff token: the body is refused before authentication reads it.
    before = log_size(client)
    body = OVER if kind != FORM else FORM_OVER
    r = client.post(
        path, content=body if declared else chunks(body), headers={"Content-Type": kind}
    )
    assert_too_large(r)
    assert log_size(client) == before


def test_a_body_under_the_limit_is_served(client: TestClient) -> None:
    pad = "x" * (LIMIT // 2)
    r = client.post("/api/v1/submissions", json={"consent": CONSENT, "pad": pad})
    assert r.status_code != 413


def test_the_limit_is_a_setting(tmp_path: Path) -> None:
    from portal.app import create_app

    settings = Settings(data_dir=tmp_path / "data", max_body_size=100)
    with TestClient(create_app(settings)) as c:
        assert c.post("/api/v1/submissions", json={"consent": CONSENT}).status_code == 201
        assert_too_large_at(c.post("/api/v1/submissions", content=b"{" + b" " * 200 + b"}"), 100)


def assert_too_large_at(r: httpx.Response, limit: int) -> None:
    assert r.status_code == 413 and str(limit) in r.json()["message"], r.text


def peak_rss_while(pid: int, work: threading.Thread) -> int:
    proc, peak = psutil.Process(pid), 0
    work.start()
    while work.is_alive():
        peak = max(peak, proc.memory_info().rss)
        work.join(0.01)
    return max(peak, proc.memory_info().rss)


@pytest.mark.parametrize("path", ["/api/v1/submissions", "/api/v1/cases"])
def test_a_huge_body_does_not_raise_server_memory(tmp_path: Path, path: str) -> None:
    """Measured, not timed: 96 MiB sent chunked to a live server; its RSS is sampled while
    the request runs. Without the limit it rose by more than the body's size."""
    huge = 96 * 1024**2
    server = Server(tmp_path / "data").start()
    statuses: list[int] = []

    def send() -> None:
        body = (b"x" * (1024**2) for _ in range(huge // 1024**2))
        try:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                statuses.append(http.post(path, content=body).status_code)
        except httpx.HTTPError:
            statuses.append(0)  # the server may close the connection mid-body: also a refusal

    try:
        assert server.proc is not None
        idle = psutil.Process(server.proc.pid).memory_info().rss
        peak = peak_rss_while(server.proc.pid, threading.Thread(target=send))
    finally:
        server.stop()
    print(f"{path}: idle RSS {idle / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB")
    assert statuses in ([413], [0])
    assert peak - idle < 32 * 1024**2
