"""Derivation jobs and playback proxies, on SQLite + local and PostgreSQL (procrastinate) + S3.

An iPhone's HEVC .MOV gets an H.264 review copy that names its original; jobs that fail are
retried later each time and then recorded as failed, once, never retried forever."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.flows import jobs
from portal.jobs.models import JobState
from portal.storage import StorageUnavailable
from portal.storage.layout import derived_key
from tests.support.api import new_submission, runtime, staff_login
from tests.support.jobs import derived_events, hevc_mov, jobs_of
from tests.support.retention import T0, Clock
from tests.support.uploads import upload

pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def iphone(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return hevc_mov(tmp_path_factory.mktemp("phone")).read_bytes()


def evidence_id(client: TestClient, data: bytes, name: str) -> str:
    _, token = new_submission(client)
    url = upload(client, {"Authorization": f"Bearer {token}"}, data, name=name)
    r = client.head(url, headers={"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    from portal.uploads.models import Upload

    with runtime(client).sessions() as db:
        row = db.get(Upload, url.rsplit("/", 1)[1])
        assert row is not None and row.evidence_id is not None
        return row.evidence_id


def test_an_iphone_video_gets_a_review_copy_naming_its_original(
    client: TestClient, iphone: bytes, video: Path
) -> None:
    rt = runtime(client)
    item = evidence_id(client, iphone, "IMG_0001.MOV")
    source = hashlib.sha256(iphone).hexdigest()
    done = jobs_of(rt, item)
    assert {k: j.state for k, j in done.items()} == {"derive": "done", "proxy": "done"}
    assert done["proxy"].progress == 100 and done["proxy"].attempts == 1
    (made,) = [d for d in derived_events(rt, item) if "proxy" in d]
    assert made["sha256"] == source
    assert made["proxy"]["key"] == derived_key(source, "proxy.mp4")
    assert made["proxy"]["tool"]["settings"]["video"]["codec"] == "libx264"
    assert (made["proxy"]["width"], made["proxy"]["height"]) == (320, 240)

    inv = staff_login(client, "investigator", name="ines")
    detail = client.get(f"/api/v1/evidence/{item}", headers=inv).json()
    assert detail["review_copy_sha256"] == made["proxy"]["sha256"]
    assert [j["state"] for j in detail["jobs"]] == ["done", "done"]
    copy = client.get(f"/api/v1/evidence/{item}/proxy", headers=inv)
    assert copy.status_code == 200 and copy.headers["content-type"] == "video/mp4"
    assert copy.headers["x-original-sha256"] == source
    assert hashlib.sha256(copy.content).hexdigest() == made["proxy"]["sha256"]
    with av.open(_bytes_file(copy.content)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    original = client.get(f"/api/v1/evidence/{item}/content?download=1", headers=inv)
    assert hashlib.sha256(original.content).hexdigest() == source  # untouched
    log = client.get(f"/api/v1/evidence/{item}/custody", headers=inv).json()
    assert "evidence.proxy_viewed" in [e["type"] for e in log]

    plain = evidence_id(client, video.read_bytes(), "h264.mp4")  # browsers play H.264
    assert set(jobs_of(rt, plain)) == {"derive"}
    missing = client.get(f"/api/v1/evidence/{plain}/proxy", headers=inv)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def _bytes_file(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


class Unreachable:
    """The portal's storage, except that reading an object fails, as during an outage."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Any:
        raise StorageUnavailable("backend went away")


@pytest.fixture
def queued_only(settings: Settings) -> Iterator[TestClient]:
    """A portal that leaves jobs to workers elsewhere (`jobs_in_app` off)."""
    quiet = settings.model_copy(update={"jobs_in_app": False, "job_max_attempts": 3})
    with TestClient(create_app(quiet)) as c:
        yield c


def test_a_failing_job_backs_off_then_fails_once_for_good(
    queued_only: TestClient, iphone: bytes
) -> None:
    rt = runtime(queued_only)
    item = evidence_id(queued_only, iphone, "IMG_0002.MOV")
    assert jobs_of(rt, item)["derive"].state == JobState.QUEUED  # left to a worker
    clock = Clock(T0 + timedelta(days=1))
    rt.clock = clock
    healthy, rt.storage = rt.storage, Unreachable(rt.storage)
    waits = []
    for _ in range(3):
        jobs.run_due(rt)
        proxy = jobs_of(rt, item)["proxy"]
        if proxy.state == JobState.FAILED:
            break
        assert proxy.state == JobState.QUEUED and "backend went away" in (proxy.last_error or "")
        assert jobs.run_due(rt) == 0  # not before its time
        waits.append(proxy.run_after - clock.now)
        clock.now = proxy.run_after
    rt.storage = healthy
    base = rt.settings.job_backoff
    assert waits == [base, base * 2]
    failed = jobs_of(rt, item)["proxy"]
    assert failed.state == JobState.FAILED and failed.attempts == 3
    clock.now += timedelta(days=30)
    assert jobs.run_due(rt) == 0  # never again
    failures = [d for d in derived_events(rt, item) if d.get("proxy") == "failed"]
    assert len(failures) == 1 and "backend went away" in failures[0]["reason"]


@pytest.fixture
def impatient(settings: Settings) -> Iterator[TestClient]:
    """A transcoder allowed almost no time, and one attempt: as a hostile file that stalls it."""
    quick = {"proxy_timeout": timedelta(milliseconds=50), "job_max_attempts": 1}
    with TestClient(create_app(settings.model_copy(update=quick))) as c:
        yield c


def test_a_transcoder_that_overruns_is_killed_and_the_job_fails_with_its_reason(
    impatient: TestClient, iphone: bytes
) -> None:
    rt = runtime(impatient)
    item = evidence_id(impatient, iphone, "IMG_0003.MOV")
    failed = jobs_of(rt, item)["proxy"]
    assert failed.state == JobState.FAILED and "took longer than" in (failed.last_error or "")
    (event,) = [d for d in derived_events(rt, item) if d.get("proxy") == "failed"]
    assert "took longer than" in event["reason"]
    inv = staff_login(impatient, "investigator", name="ines")
    detail = impatient.get(f"/api/v1/evidence/{item}", headers=inv).json()
    assert detail["review_copy_sha256"] is None
    assert {j["kind"]: j["state"] for j in detail["jobs"]} == {"derive": "done", "proxy": "failed"}
    assert impatient.get(f"/api/v1/evidence/{item}/proxy", headers=inv).status_code == 404
    assert jobs.run_due(rt) == 0
