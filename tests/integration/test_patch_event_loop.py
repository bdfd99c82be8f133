"""A PATCH never waits for the database on the event loop.

Regression: on local storage each chunk was written on the event loop (cheaper than a thread
hop), and with it the lease renewal that a write makes every third of the lease, and the
refusal of a body whose first bytes are not media: both are database transactions, and under
a crowd a commit waits for SQLite's one writer, stalling every other request meanwhile.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from portal.app import create_app
from portal.config import Settings
from portal.db import transaction
from portal.uploads import patch as patch_
from tests.support.api import new_submission
from tests.support.uploads import OCTET, TUS, create_upload

CHUNK = 16 << 10


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def on_loop(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """The caller of each transaction the PATCH code opened, and whether it ran on the event
    loop."""
    seen: list[tuple[str, bool]] = []
    original = transaction

    def watched(factory: sessionmaker[Session]) -> AbstractContextManager[Session]:
        seen.append((sys._getframe(1).f_code.co_name, _on_event_loop()))
        return original(factory)

    monkeypatch.setattr(patch_, "transaction", watched)
    return seen


def _trickle(data: bytes, pause: float) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]
        time.sleep(pause)


def _send(c: TestClient, data: bytes, pause: float) -> Any:
    _, token = new_submission(c)
    auth = {"Authorization": f"Bearer {token}"}
    url = create_upload(c, auth, len(data))
    return c.patch(
        url,
        content=_trickle(data, pause),
        headers={**TUS, **auth, **OCTET, "Upload-Offset": "0"},
    )


def test_lease_renewal_runs_off_the_event_loop(
    settings: Settings, video: Path, on_loop: list[tuple[str, bool]]
) -> None:
    # A lease short enough that the trickling body renews it.
    s = settings.model_copy(update={"upload_lock_lease": timedelta(seconds=0.3)})
    data = video.read_bytes()
    with TestClient(create_app(s)) as c:
        r = _send(c, data, 0.05)
    assert r.status_code == 204, r.text
    assert int(r.headers["Upload-Offset"]) == len(data)
    assert ("_hold_lease", False) in on_loop, on_loop
    assert ("_hold_lease", True) not in on_loop, on_loop


def test_refusal_of_non_media_runs_off_the_event_loop(
    settings: Settings, on_loop: list[tuple[str, bool]]
) -> None:
    with TestClient(create_app(settings)) as c:
        r = _send(c, b"\x00not media at all" * 4096, 0)
    assert r.status_code == 415, r.text
    assert r.json()["error"] == "media_type_refused"
    assert on_loop and not any(loop for _, loop in on_loop), on_loop
