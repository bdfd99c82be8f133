"""Run the media parser (portal.media.worker) in a child process with limits, and read its answer.

FFmpeg and Pillow parse bytes chosen by anonymous senders. They run in a fresh interpreter with
memory, CPU-time and output-size limits and a wall-clock timeout; it gets the input as an open
descriptor on its standard input, an empty output folder as its working directory and a clean
environment (no PORTAL_* settings, no AWS credentials): nothing that names a key. A child that
dies, overruns or answers nonsense makes the file "unreadable"; the server process never sees
the decoded pixels.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import portal
from portal.media.worker import POSTER_NAME

__all__ = ["Limits", "Outcome", "Proxy", "child_env", "run", "run_transcode", "worker_command"]

_SOURCE_ROOT = str(Path(portal.__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    cpu_seconds: int
    output_bytes: int
    timeout_seconds: float
    max_pixels: int
    max_streams: int
    max_duration: float


@dataclass(frozen=True)
class Outcome:
    """`info` for media, `error` for input that is not media, `unreadable` when the parser
    died, ran out of time or the file is over the limits."""

    info: dict[str, Any] | None = None
    poster: bytes | None = None
    error: str | None = None
    unreadable: str | None = None


def worker_command(limits: Limits) -> list[str]:
    return [sys.executable, "-m", "portal.media.worker", json.dumps(asdict(limits))]


def child_env() -> dict[str, str]:
    """Only what an interpreter needs to find its code: no settings, no credentials."""
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": _SOURCE_ROOT, "LC_ALL": "C.UTF-8"}


def run(source: IO[bytes], limits: Limits) -> Outcome:
    """Parse the (seekable, real-file) `source` in a limited child; never raises for bad media."""
    with tempfile.TemporaryDirectory(prefix="portal-media-") as out:
        proc = subprocess.Popen(
            worker_command(limits),
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=out,
            env=child_env(),
            close_fds=True,
            start_new_session=True,  # its own group: a timeout kills the parser and its threads
        )
        try:
            stdout, stderr = proc.communicate(timeout=limits.timeout_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return Outcome(unreadable=f"the parser took longer than {limits.timeout_seconds:g} s")
        return _read_answer(proc.returncode, stdout, stderr, Path(out) / POSTER_NAME)


def _read_answer(code: int, stdout: bytes, stderr: bytes, poster_path: Path) -> Outcome:
    if code < 0:
        return Outcome(unreadable=f"the parser was killed ({signal.Signals(-code).name})")
    if code != 0:
        last = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return Outcome(unreadable=f"the parser failed (exit {code}: {last[0][:200]})")
    try:
        answer = json.loads(stdout)
    except ValueError:
        return Outcome(unreadable="the parser gave no answer")
    if not isinstance(answer, dict):
        return Outcome(unreadable="the parser gave no answer")
    if "unreadable" in answer:
        return Outcome(unreadable=str(answer["unreadable"]))
    if "error" in answer:
        return Outcome(error=str(answer["error"]))
    poster = poster_path.read_bytes() if poster_path.is_file() else None
    return Outcome(info=answer.get("info"), poster=poster or None)


@dataclass(frozen=True)
class Proxy:
    """A finished review copy (`data`, with what made it), or why there is none."""

    data: bytes | None = None
    details: dict[str, Any] | None = None
    failure: str | None = None


def run_transcode(source: IO[bytes], limits: Limits, tick: Callable[[int], bool]) -> Proxy:
    """Make a playback proxy of `source` in a limited child (portal.media.transcode).

    `tick(progress)` is called about every second; when it answers False (the job is no
    longer ours) the child is killed. Never raises for bad media."""
    command = [sys.executable, "-m", "portal.media.transcode", json.dumps(asdict(limits))]
    with tempfile.TemporaryDirectory(prefix="portal-proxy-") as out:
        proc = subprocess.Popen(
            command,
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=out,
            env=child_env(),
            close_fds=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + limits.timeout_seconds
        try:
            while True:
                try:
                    left = deadline - time.monotonic()
                    stdout, stderr = proc.communicate(timeout=min(1.0, max(left, 0.01)))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        return _kill(proc, f"took longer than {limits.timeout_seconds:g} s")
                    if not tick(_read_progress(Path(out) / "progress")):
                        return _kill(proc, "the job was taken over")
        except BaseException:
            _kill(proc, "stopped")
            raise
        answer = _read_answer(proc.returncode, stdout, stderr, Path(out) / "none")
        if answer.unreadable or answer.error:
            return Proxy(failure=answer.unreadable or answer.error)
        made = Path(out) / "proxy.mp4"
        return Proxy(data=made.read_bytes(), details=answer.info)


def _read_progress(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (OSError, ValueError):
        return 0


def _kill(proc: subprocess.Popen[bytes], why: str) -> Proxy:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    return Proxy(failure=f"the transcoder {why}")
