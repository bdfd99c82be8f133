"""`portal serve` with one fault point armed: the process SIGKILLs itself on the point's N-th hit.

Test-only: production code has no fault hooks. This module starts the real app exactly the way
`python -m portal` does, after wrapping one function so that a crash lands at a chosen step
instead of wherever a timer happens to fall:

    python -m tests.support.faultpoints POINT N serve --data-dir ... --port ...

Points (each counts its own hits from the first request on; the startup recovery does not
count):

- `patch_commit`: a PATCH's bytes were made durable by storage, the new offset not yet committed.
- `finish_before`: finalise is about to move the complete partial to `sha256/<hex>`.
- `finish_after`: the original is in place; no evidence row, no receipt events yet.
- `custody_append`: an upload's custody event (upload.created, upload.completed or
  evidence.received) was inserted, its transaction not yet committed.
- `evidence_received`: the evidence row and its `evidence.received` event are inserted, not yet
  committed (the last step of finalise).
- `after_receipt`: finalise committed (with the retention date and jobs); the derivatives and
  checkpoint are not done.
- `poster_put`: a derived object (the poster) is stored, its row not yet committed.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

UPLOAD_EVENTS = frozenset({"upload.created", "upload.completed", "evidence.received"})
POINTS = (
    "patch_commit",
    "finish_before",
    "finish_after",
    "custody_append",
    "evidence_received",
    "after_receipt",
    "poster_put",
)


def die() -> None:
    sys.stderr.write("fault point reached: SIGKILL\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class Counter:
    def __init__(self, nth: int) -> None:
        self.left = nth
        self.paused = False  # hits while paused do not count

    def hit(self) -> None:
        if self.paused:
            return
        self.left -= 1
        if self.left == 0:
            die()


def _wrap(
    owner: Any,
    name: str,
    *,
    before: Callable[..., None] | None = None,
    after: Callable[..., Any] | None = None,
) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before is not None:
            before(*args, **kwargs)
        result = original(*args, **kwargs)
        if after is not None:
            after(result, *args, **kwargs)
        return result

    setattr(owner, name, wrapper)


class _CommitThenDie:
    """A partial writer whose commit counts as a hit once storage has made the bytes durable."""

    def __init__(self, inner: Any, counter: Counter) -> None:
        self._inner = inner
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit(self) -> Any:
        state = self._inner.commit()
        self._counter.hit()
        return state


def arm(point: str, nth: int) -> None:
    if point not in POINTS:
        raise SystemExit(f"unknown fault point {point!r}; one of {', '.join(POINTS)}")
    if nth < 1:
        raise SystemExit("N counts from 1")
    import portal.app
    from portal.custody import service as custody
    from portal.flows import receipt
    from portal.storage.local import LocalStorage
    from portal.storage.s3 import S3Storage

    counter = Counter(nth)
    # Counting starts with the first request: the startup recovery (finishing what the last
    # crash interrupted) does not count, the point is armed for the requests this process
    # serves. (A readiness probe is the first request; recovery is over by then.)
    counter.paused = True
    create_app = portal.app.create_app

    def create_counting_app(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)

        async def counting_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                counter.paused = False
            await app(scope, receive, send)

        return counting_app

    portal.app.create_app = create_counting_app
    backends = (LocalStorage, S3Storage)
    if point == "patch_commit":
        for cls in backends:
            original = cls.open_partial

            def open_partial(
                self: Any, *args: Any, _original: Any = original, **kwargs: Any
            ) -> Any:
                return _CommitThenDie(_original(self, *args, **kwargs), counter)

            cls.open_partial = open_partial  # type: ignore[method-assign]
    elif point == "finish_before":
        for cls in backends:
            _wrap(cls, "finish_partial", before=lambda *a, **k: counter.hit())
    elif point == "finish_after":
        for cls in backends:
            _wrap(cls, "finish_partial", after=lambda *a, **k: counter.hit())
    elif point in ("custody_append", "evidence_received"):
        wanted = UPLOAD_EVENTS if point == "custody_append" else {"evidence.received"}

        def appended(entry: Any, *args: Any, **kwargs: Any) -> None:
            if str(kwargs["type"]) in wanted:
                counter.hit()

        _wrap(custody, "append", after=appended)
    elif point == "after_receipt":
        _wrap(receipt, "after_receipt", before=lambda *a, **k: counter.hit())
    else:

        def stored(result: Any, storage: Any, key: str, *args: Any, **kwargs: Any) -> None:
            if key.startswith("derived/"):
                counter.hit()

        for cls in backends:
            _wrap(cls, "put", after=stored)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or not argv[1].isdigit():
        raise SystemExit("usage: python -m tests.support.faultpoints POINT N <portal arguments>")
    arm(argv[0], int(argv[1]))
    from portal.cli import app

    app(argv[2:], prog_name="portal")


if __name__ == "__main__":
    main(sys.argv[1:])
