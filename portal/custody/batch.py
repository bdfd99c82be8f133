"""Checkpoints asked for by many finished uploads, signed together.

Every received file needs a checkpoint that covers it before its receipt can be made, but
signing one per file (a lock on the log head, a consistency proof, a signature, tiles written
to storage) made a crowd of finishing witnesses wait for each other. A request here returns at
once; one thread signs whatever is committed when its round starts, so a signing covers every
request made before that start, and rounds are at least `interval` apart while requests keep
coming. Nothing lives only here: a request is made after its event is committed, and a process
that stops before signing leaves the event in the database, where the next signing (the
receipt route, the periodic sweep, the next start, another instance) covers it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class SigningBatcher:
    def __init__(self, sign: Callable[[], object], *, interval: float) -> None:
        self._sign = sign
        self._interval = interval
        self._cond = threading.Condition()
        self._requested = 0  # tickets handed out
        self._signed = 0  # every ticket up to this one is covered by a finished signing
        self._thread: threading.Thread | None = None
        self._hurry = False  # draining: no pause between rounds

    def request(self) -> int:
        """Ask for a checkpoint covering what the caller has committed; returns a ticket."""
        with self._cond:
            self._requested += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="portal-checkpoints", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
            return self._requested

    def wait(self, ticket: int, timeout: float) -> bool:
        """Wait until a signing that started after `ticket` was handed out has finished."""
        with self._cond:
            return self._cond.wait_for(lambda: self._signed >= ticket, timeout)

    def drain(self, timeout: float) -> None:
        """Sign what was asked for without pausing, and let the thread end (at shutdown:
        nothing signs from a stopped portal's thread later)."""
        with self._cond:
            self._hurry = True
            thread = self._thread
            self._cond.notify_all()
        try:
            if thread is not None:
                thread.join(timeout)
        finally:
            with self._cond:
                self._hurry = False

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._requested == self._signed:
                    self._thread = None  # idle: the next request starts a new thread
                    return
                target = self._requested
            try:
                self._sign()
            except Exception:  # the receipt route, the sweep or the next round signs again
                log.exception("signing a checkpoint failed")
            with self._cond:
                self._signed = max(self._signed, target)
                self._cond.notify_all()
                # At most one signing per interval under load.
                self._cond.wait_for(lambda: self._hurry, self._interval)
