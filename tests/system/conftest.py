"""Fixtures every browser suite here shares: Debian's Chromium (one per module) and the
portal served on 127.0.0.1 for each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from portal.config import Settings
from tests.support.web import LiveServer, chromium, live_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as server:
        yield server
