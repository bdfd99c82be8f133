"""Appends from many threads, each in its own transaction, make one gap-free sequence."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.app import build_runtime
from portal.clock import utcnow
from portal.config import Settings
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.db import transaction
from portal.flows.content_audit import audit_log_and_content
from portal.runtime import Runtime

THREADS = 8
APPENDS = 200


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(Settings(data_dir=tmp_path / "data"))
    yield rt
    rt.engine.dispose()


def test_concurrent_appends_are_gap_free_and_verify(runtime: Runtime) -> None:
    runtime.sign_checkpoint()  # as at startup: the log does not start empty
    with runtime.sessions() as db:
        start = custody.tree_size(db)
    barrier = threading.Barrier(THREADS)
    seqs: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        mine: list[int] = []
        try:
            barrier.wait()
            for i in range(APPENDS):
                with transaction(runtime.sessions) as db:
                    entry = custody.append(
                        db,
                        type=EventType.UPLOAD_CREATED,
                        actor=Actor.witness(f"w{worker}"),
                        subject=f"w{worker}",
                        details={"worker": worker, "i": i},
                        at=utcnow(),
                    )
                    mine.append(entry.seq)
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        seqs[worker] = mine

    threads = [threading.Thread(target=work, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "an append thread hung"
    assert not errors, errors

    every = sorted(s for mine in seqs.values() for s in mine)
    assert every == list(range(start, start + THREADS * APPENDS))  # no gaps, no duplicates
    for mine in seqs.values():
        assert mine == sorted(mine)  # each thread's appends in its own order
    with runtime.sessions() as db:
        assert custody.tree_size(db) == start + THREADS * APPENDS
        # Each entry's event names its worker and position: nothing was mixed up.
        for seq in (start, start + 777, start + THREADS * APPENDS - 1):
            entry = custody.entry(db, seq=seq)
            worker = next(w for w, mine in seqs.items() if seq in mine)
            assert entry.subject == f"w{worker}"
            assert f'"i":{seqs[worker].index(seq)}'.encode() in entry.event

    runtime.sign_checkpoint()
    with runtime.sessions() as db:
        report = audit_log_and_content(
            db,
            runtime.storage,
            verifier_key=runtime.log_verifier,
            origin=runtime.settings.log_origin,
        )
    assert report.ok, report.text()
    assert f"entries: {start + THREADS * APPENDS + 1} entries" in report.text()
