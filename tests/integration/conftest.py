"""Fixtures the retention suites share (retention, insider, change requests, properties)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.api import runtime, staff_login
from tests.support.media import make_video
from tests.support.retention import T0, Clock


@pytest.fixture
def clock(client: TestClient) -> Clock:
    c = Clock(T0)
    runtime(client).clock = c
    return c


@pytest.fixture
def sup(client: TestClient, clock: Clock) -> dict[str, str]:
    return staff_login(client, "supervisor", name="sara")


@pytest.fixture
def sup2(client: TestClient, clock: Clock) -> dict[str, str]:
    return staff_login(client, "supervisor", name="sven")


@pytest.fixture
def inv(client: TestClient, clock: Clock) -> dict[str, str]:
    return staff_login(client, "investigator", name="ivan")


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small valid MP4; `varied(clip, tag)` makes distinct files from it."""
    path = make_video(tmp_path_factory.mktemp("retention") / "clip.mp4", seconds=0.5, size="64x64")
    return path.read_bytes()
