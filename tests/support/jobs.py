"""Helpers for the job suites: phone-like media made at test time and a look at job rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from portal.custody.models import LogEntry
from portal.jobs.models import Job
from portal.runtime import Runtime
from tests.support.media import make_video


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


def mpeg4_avi(folder: Path, *, seconds: float, size: str) -> Path:
    """An older phone's or camera's AVI (MPEG-4 Part 2): quick to make, needs a proxy."""
    return make_video(folder / "old.avi", seconds=seconds, size=size, codec="mpeg4")


def jobs_of(rt: Runtime, evidence_id: str) -> dict[str, Job]:
    with rt.sessions() as db:
        rows = db.scalars(select(Job).where(Job.evidence_id == evidence_id))
        return {j.kind: j for j in rows}


def derived_events(rt: Runtime, evidence_id: str) -> list[dict[str, Any]]:
    with rt.sessions() as db:
        events = db.scalars(
            select(LogEntry.event).where(
                LogEntry.type == "evidence.derived", LogEntry.subject == evidence_id
            )
        )
        return [json.loads(e)["details"] for e in events]
