"""Run a redaction (or its preview) in the limited child (portal.media.redact).

The same isolation as posters and proxies: a fresh interpreter with memory, CPU, output and
wall-clock limits, the original on its standard input, no settings and no keys. The server
only ever sees the finished file or the reason there is none.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from portal.media.isolation import Limits, Proxy, _kill, _read_answer, _read_progress, child_env
from portal.media.redact import OUTPUT_NAME, PREVIEW_NAME, PROGRESS_NAME
from portal.media.service import source
from portal.storage import Storage


def _run(fileobj: Any, limits: Limits, task: dict[str, Any], tick: Callable[[int], bool]) -> Proxy:
    command = [
        sys.executable,
        "-m",
        "portal.media.redact",
        json.dumps(asdict(limits)),
        json.dumps(task),
    ]
    with tempfile.TemporaryDirectory(prefix="portal-redact-") as out:
        proc = subprocess.Popen(
            command,
            stdin=fileobj,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=out,
            env=child_env(),
            close_fds=True,
            start_new_session=True,  # its own group: a timeout kills it and its threads
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
                    if not tick(_read_progress(Path(out) / PROGRESS_NAME)):
                        return _kill(proc, "the job was taken over")
        except BaseException:
            _kill(proc, "stopped")
            raise
        answer = _read_answer(proc.returncode, stdout, stderr, Path(out) / "none")
        if answer.unreadable or answer.error:
            return Proxy(failure=answer.unreadable or answer.error)
        made = Path(out) / (PREVIEW_NAME if task.get("preview_at") is not None else OUTPUT_NAME)
        if not made.is_file():
            return Proxy(failure="the redaction made no file")
        return Proxy(data=made.read_bytes(), details=answer.info)


def render(
    storage: Storage,
    *,
    key: str,
    operations: list[dict[str, Any]],
    limits: Limits,
    tick: Callable[[int], bool],
) -> Proxy:
    """The redacted copy of the original at `key`; never raises for bad media."""
    with source(storage, key) as (fileobj, _read):
        return _run(fileobj, limits, {"operations": operations}, tick)


def preview(
    storage: Storage, *, key: str, operations: list[dict[str, Any]], at: float, limits: Limits
) -> Proxy:
    """One PNG still at `at` seconds, redacted, with the boxes outlined."""
    with source(storage, key) as (fileobj, _read):
        return _run(fileobj, limits, {"operations": operations, "preview_at": at}, lambda _: True)
