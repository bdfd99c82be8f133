"""Jobs outlive their worker: `portal worker` is SIGKILLed while it transcodes, and another
worker takes the job over once the lease has run out and finishes it (SQLite's table poller;
PostgreSQL's procrastinate worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.jobs.models import JobState
from portal.runtime import Runtime
from tests.support.api import new_submission, runtime
from tests.support.jobs import jobs_of, mpeg4_avi
from tests.support.uploads import upload

pytestmark = pytest.mark.both_backends
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return mpeg4_avi(tmp_path_factory.mktemp("avi"), seconds=12, size="1280x720").read_bytes()


@pytest.fixture
def portal_alone(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"jobs_in_app": False}))) as c:
        yield c


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PORTAL_DATA_DIR": str(settings.data_dir),
        "PORTAL_DATABASE_URL": settings.database_url,
        "PORTAL_STORAGE_URL": settings.storage_url,
        "PORTAL_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "PORTAL_JOB_LEASE": "3",
        "PORTAL_JOB_POLL_INTERVAL": "0.5",
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "portal", "worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )


def wait_for(check: Callable[[], bool], what: str, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen: {log.read_text()[-3000:]}")


def proxy_state(rt: Runtime, item: str) -> tuple[str | None, int]:
    job = jobs_of(rt, item).get("proxy")
    return (job.state, job.attempts) if job else (None, 0)


def test_a_killed_workers_job_is_finished_by_another(
    portal_alone: TestClient, settings: Settings, long_clip: bytes, tmp_path: Path
) -> None:
    rt = runtime(portal_alone)
    _, token = new_submission(portal_alone)
    url = upload(portal_alone, {"Authorization": f"Bearer {token}"}, long_clip, name="old.avi")
    from portal.uploads.models import Upload

    with rt.sessions() as db:
        row = db.get(Upload, url.rsplit("/", 1)[1])
        assert row is not None and row.evidence_id is not None
        item = row.evidence_id
    log = tmp_path / "workers.log"
    first = start_worker(settings, log)
    try:
        wait_for(lambda: proxy_state(rt, item)[0] == JobState.RUNNING, "a first run", log)
        time.sleep(1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its transcoder, mid-run
        first.wait()
    assert proxy_state(rt, item) == (JobState.RUNNING, 1)  # held by the dead worker's lease

    second = start_worker(settings, log)
    try:
        wait_for(lambda: proxy_state(rt, item)[0] == JobState.DONE, "the take-over", log)
    finally:
        second.terminate()
        second.wait(30)
    assert proxy_state(rt, item) == (JobState.DONE, 2)
