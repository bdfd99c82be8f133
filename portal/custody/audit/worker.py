"""The per-event checks of a large log in a child process, while this one reads and hashes.

A plain child interpreter reads batches (frames of pickled columns) on stdin and writes
their findings on stdout; `EventChecker` feeds it and falls back to checking here.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from typing import IO, Any

from .event_checks import Batch, as_batch, check_events
from .findings import Finding

PARALLEL_FROM = 250_000
"""Logs at least this long have their events' JSON checked by a worker process while this
one reads and hashes: about a quarter off the audit's time when a second CPU is free. Starting
the worker costs most of a second."""


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


# The worker is a plain child interpreter that imports this module alone: multiprocessing's
# spawn would first rerun the caller's __main__ script in it, side effects and all.
WORKER_CODE = (
    "import os, sys; out = os.dup(1); os.dup2(2, 1); "  # stray prints go to stderr
    "from portal.custody.audit.worker import serve; serve(out)"
)
_FRAME = struct.Struct(">Q")


def _write_frame(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    """The next object, or None at the end of the stream."""
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (length,) = _FRAME.unpack(head)
    data = stream.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data)  # from our own parent or child process only


def serve(out_fd: int) -> None:
    """The worker process: batches in on stdin, their findings out."""
    gc.disable()  # as in the parent's pass: everything made here is acyclic
    with open(out_fd, "wb") as out:
        while (batch := _read_frame(sys.stdin.buffer)) is not None:
            _write_frame(out, check_events(*batch))


class EventChecker:
    """Runs check_events per batch: in a worker process for a log of `entries` from
    PARALLEL_FROM up when a second CPU is usable, else in-process.

    A worker that cannot start or stops answering leaves its batches to be checked here.
    """

    def __init__(self, entries: int) -> None:
        self.pending: deque[tuple[Batch, bool]] = deque()
        """Batches submitted, with whether the worker has them, in order."""
        self.replies: queue.SimpleQueue[list[Finding] | None] = queue.SimpleQueue()
        self.worker: subprocess.Popen[bytes] | None = None
        self.reader: threading.Thread | None = None
        if entries >= PARALLEL_FROM and usable_cpus() > 1:
            self._start()

    def _start(self) -> None:
        path = os.pathsep.join(p for p in sys.path if p)  # find `portal` as we do
        try:
            self.worker = subprocess.Popen(
                [sys.executable, "-c", WORKER_CODE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError:
            return
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.worker is not None and self.worker.stdout is not None
        try:
            while (found := _read_frame(self.worker.stdout)) is not None:
                self.replies.put(found)
        except (OSError, ValueError, pickle.UnpicklingError):
            pass
        self.replies.put(None)  # the worker is gone

    def _stop(self) -> None:
        worker, self.worker = self.worker, None
        if worker is None:
            return
        with contextlib.suppress(OSError):
            assert worker.stdin is not None
            worker.stdin.close()  # the worker's end of input: it exits
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if self.reader is not None:
            self.reader.join(timeout=10)
        if worker.stdout is not None:
            worker.stdout.close()

    def __enter__(self) -> EventChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def submit(self, start: int, rows: Sequence[Sequence[Any]]) -> None:
        batch = as_batch(start, rows)
        sent = False
        if self.worker is not None:
            try:
                assert self.worker.stdin is not None
                _write_frame(self.worker.stdin, batch)
                sent = True
            except OSError:  # the worker died
                self._stop()
        self.pending.append((batch, sent))

    def results(self, *, all: bool) -> Iterator[Finding]:
        """Findings of the batches done; with `all`, of every batch. While a worker runs,
        the latest batch is left to it, to check while the next one is read."""
        while self.pending and (all or len(self.pending) > 1 or not self.pending[0][1]):
            batch, sent = self.pending.popleft()
            found = self.replies.get() if sent and self.worker is not None else None
            if found is None:
                if sent:
                    self._stop()
                found = check_events(*batch)
            yield from found
