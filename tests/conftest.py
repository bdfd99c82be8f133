from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from tests.support.api import new_submission
from tests.support.media import make_video
from tests.support.servers import (
    Seaweed,
    Server,
    fresh_database,
    start_postgres,
    start_seaweed,
)

# Suites that are not about second factors sign supervisors and admins in with a password
# alone; tests/integration/test_second_factor.py turns the requirement back on. Set in the
# environment so that servers started as child processes inherit it too.
os.environ.setdefault("PORTAL_SECOND_FACTOR_ROLES", "")


@pytest.fixture(scope="session")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2 MB of H.264 MP4."""
    return make_video(tmp_path_factory.mktemp("media") / "balcony.mp4")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the session: `postgresql+psycopg://postgres@127.0.0.1:PORT/...`."""
    with start_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def seaweed() -> Iterator[Seaweed]:
    """`weed mini` (master, volume, filer, S3) with keys, so unsigned requests are refused."""
    with start_seaweed() as server:
        yield server


BACKENDS = ("sqlite-local", "postgres-s3")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "fault injection", "tests/system/test_faults.py; defaults are the short run"
    )
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
    pg: str = request.getfixturevalue("postgres_url")
    s3: Seaweed = request.getfixturevalue("seaweed")
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


@pytest.fixture
def witness(client: TestClient) -> tuple[str, dict[str, str]]:
    sub_id, token = new_submission(client)
    return sub_id, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data").start()
    yield srv
    srv.stop()
