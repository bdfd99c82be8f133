"""Helpers for the job suites: phone-like media made at test time and a look at job rows."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import av
from fastapi.testclient import TestClient
from sqlalchemy import select

from portal.custody.models import LogEntry
from portal.jobs.models import Job, JobState
from portal.runtime import Runtime
from portal.uploads.models import Upload
from tests.support.api import new_submission, runtime
from tests.support.media import make_video
from tests.support.uploads import upload


def hevc_mov(folder: Path, *, seconds: float = 1, size: str = "320x240") -> Path:
    """What an iPhone records: HEVC tagged hvc1 in QuickTime (small, x265 is slow)."""
    return make_video(
        folder / "IMG_0001.MOV",
        seconds=seconds,
        size=size,
        codec="libx265",
        codec_tag="hvc1",
        bitrate=500_000,
    )


def portrait_mov(folder: Path, *, seconds: float = 1) -> Path:
    """A phone held upright: landscape pictures stored with a display matrix turning them a
    quarter clockwise (as iPhones write portrait video), HEVC in QuickTime."""
    path = folder / "IMG_0002.MOV"
    graph = f"testsrc2=size=320x240:rate=25:duration={seconds}"
    with av.open(graph, format="lavfi") as src, av.open(str(path), "w") as dst:
        out: Any = dst.add_stream("libx265", rate=25)
        out.width, out.height, out.pix_fmt, out.codec_tag = 320, 240, "yuv420p", "hvc1"
        out.set_display_rotation(-90)  # counter-clockwise degrees: a quarter turn clockwise
        for frame in src.decode(video=0):
            dst.mux(out.encode(frame.reformat(format="yuv420p")))
        dst.mux(out.encode(None))
    return path


def received_id(client: TestClient, data: bytes, name: str) -> str:
    """Upload `data` as a witness and return the evidence id it became."""
    _, token = new_submission(client)
    url = upload(client, {"Authorization": f"Bearer {token}"}, data, name=name)
    with runtime(client).sessions() as db:
        row = db.get(Upload, url.rsplit("/", 1)[1])
        assert row is not None and row.evidence_id is not None
        return row.evidence_id


def mpeg4_avi(folder: Path, *, seconds: float, size: str) -> Path:
    """An older phone's or camera's AVI (MPEG-4 Part 2): quick to make, needs a proxy."""
    return make_video(folder / "old.avi", seconds=seconds, size=size, codec="mpeg4")


def jobs_of(rt: Runtime, evidence_id: str) -> dict[str, Job]:
    with rt.sessions() as db:
        rows = db.scalars(select(Job).where(Job.evidence_id == evidence_id))
        return {j.kind: j for j in rows}


def with_review_copy(client: TestClient, data: bytes, name: str) -> str:
    """`received_id`, then wait for the review copy: the receipt runs the item's jobs, but the
    app's worker thread may have claimed them first and still be at work."""
    item = received_id(client, data, name)
    deadline = time.monotonic() + 120
    while (proxy := jobs_of(runtime(client), item).get("proxy")) is None or (
        proxy.state != JobState.DONE
    ):
        assert time.monotonic() < deadline, proxy and proxy.last_error
        time.sleep(0.2)
    return item


def derived_events(rt: Runtime, evidence_id: str) -> list[dict[str, Any]]:
    with rt.sessions() as db:
        events = db.scalars(
            select(LogEntry.event).where(
                LogEntry.type == "evidence.derived", LogEntry.subject == evidence_id
            )
        )
        return [json.loads(e)["details"] for e in events]
