"""The signing rounds: one signing serves every request made before it started."""

from __future__ import annotations

import threading
import time

import pytest

from portal.custody.batch import SigningBatcher


class Signer:
    def __init__(self, fail_first: bool = False) -> None:
        self.rounds: list[float] = []  # when each signing started
        self.fail_first = fail_first

    def __call__(self) -> None:
        self.rounds.append(time.monotonic())
        if self.fail_first and len(self.rounds) == 1:
            raise OSError("storage is down")
        time.sleep(0.05)


def test_a_crowd_of_requests_is_signed_in_few_rounds_and_each_waits_for_a_later_start() -> None:
    signer = Signer()
    batcher = SigningBatcher(signer, interval=0.1)
    covered: list[bool] = []

    def finish() -> None:
        asked = time.monotonic()
        assert batcher.wait(batcher.request(), timeout=10)
        covered.append(any(start >= asked for start in signer.rounds))

    crowd = [threading.Thread(target=finish) for _ in range(100)]
    for t in crowd:
        t.start()
    for t in crowd:
        t.join()
    assert covered == [True] * 100  # a round that started after the request, for every one
    assert len(signer.rounds) <= 10
    batcher.drain(5)
    assert not any(t.name == "portal-checkpoints" for t in threading.enumerate())


def test_a_failed_signing_is_logged_and_the_next_request_signs_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signer = Signer(fail_first=True)
    batcher = SigningBatcher(signer, interval=0.01)
    batcher.wait(batcher.request(), timeout=10)
    assert "signing a checkpoint failed" in caplog.text
    assert batcher.wait(batcher.request(), timeout=10)
    assert len(signer.rounds) == 2


def test_without_requests_nothing_is_signed_and_drain_returns() -> None:
    signer = Signer()
    SigningBatcher(signer, interval=0.01).drain(1)
    assert signer.rounds == []
