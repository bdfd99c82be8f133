from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from tests.media import make_video
from tests.servers import postgres_url, seaweed  # noqa: F401  (session fixtures)

REPO = Path(__file__).resolve().parents[1]
CONSENT = {"version": "1", "scopes": ["investigation", "prosecution"], "language": "es"}


@pytest.fixture(scope="session")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2 MB of H.264 MP4."""
    return make_video(tmp_path_factory.mktemp("media") / "balcony.mp4")


BACKENDS = ("sqlite-local", "postgres-s3")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fault injection", "tests/test_faults.py; defaults are the short run")
    group.addoption(
        "--fault-uploads",
        type=int,
        default=None,
        help="uploads whose client is SIGKILLed (default 10; 3 on PostgreSQL + S3)",
    )
    group.addoption(
        "--fault-server-kills",
        type=int,
        default=None,
        help="server SIGKILLs, random and at fault points (default: each kind once)",
    )
    group.addoption(
        "--fault-seed", type=int, default=None, help="reproduce a run (default: random)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_backends: run against {SQLite + local} and {PostgreSQL + S3}"
    )
    config.addinivalue_line(
        "markers", "local_only: reaches into the local storage folder; embedded default only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Suites marked both_backends run twice: embedded default, and the scale-out parts.
    # Tests that reach into the local storage folder (to corrupt or list files) are local_only.
    marked = metafunc.definition.get_closest_marker("both_backends")
    if (
        "backend" in metafunc.fixturenames
        and marked
        and not metafunc.definition.get_closest_marker("local_only")
    ):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite-local"))


@pytest.fixture
def settings(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    if backend == "sqlite-local":
        return Settings(data_dir=tmp_path / "data")
    from tests.servers import fresh_database

    pg: str = request.getfixturevalue("postgres_url")
    s3 = request.getfixturevalue("seaweed")
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=fresh_database(pg),
        storage_url=f"s3://{s3.new_bucket(object_lock=True)}/portal",
        s3_endpoint_url=s3.endpoint_url,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def new_submission(client: httpx.Client | TestClient, **extra: Any) -> tuple[str, str]:
    r = client.post("/api/v1/submissions", json={"consent": CONSENT, **extra})
    assert r.status_code == 201, r.text
    body = r.json()
    return body["id"], body["witness_token"]


@pytest.fixture
def witness(client: TestClient) -> tuple[str, dict[str, str]]:
    sub_id, token = new_submission(client)
    return sub_id, {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`portal serve` in a child process, so tests can SIGKILL and restart it."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Runs here open many submissions from one address (127.0.0.1); the limits have
        # their own tests (tests/test_rate_limits.py), which set them through `env`.
        no_limits = {"PORTAL_RATE_LIMIT_SUBMISSIONS": "0", "PORTAL_RATE_LIMIT_UPLOADS": "0"}
        self.env = {**no_limits, **os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"

    def start(self, fault: tuple[str, int] | None = None) -> Server:
        """Start (again, same data and port); `fault` arms a point of tests/faultpoints.py."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        launcher = ["portal"] if fault is None else ["tests.faultpoints", fault[0], str(fault[1])]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    *launcher,
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/consent", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data").start()
    yield srv
    srv.stop()


PASSWORD = "correct horse battery staple"


def staff_login(client: TestClient, role: str, name: str | None = None) -> dict[str, str]:
    """Create a staff account with `role` and return its bearer headers."""
    from portal.auth.service import add_user
    from portal.db import transaction

    rt = client.app.state.runtime  # type: ignore[attr-defined]
    name = name or f"{role}-{len(role)}"
    with transaction(rt.sessions) as db:
        add_user(db, name=name, role=role, password=PASSWORD, now=rt.clock())
    r = client.post("/api/v1/auth/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
