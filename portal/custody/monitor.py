"""An outside monitor of a portal's log, run from cron by anyone holding the log's public key.

Each run fetches the public checkpoint, checks its signature and its RFC 3161 timestamp,
proves from the log's public tiles that it extends the last checkpoint this monitor saw (kept
in its state folder), and keeps the new one. A fork, a rollback, a bad signature, a malformed
answer or a checkpoint older than the allowed age is a `RemoteError`: the command exits
non-zero with its message.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509

from . import remote, tsa
from .note import Checkpoint

SEEN = "checkpoint"
SEEN_AT = "checkpoint.seen-at"


@dataclass
class Outcome:
    checkpoint: Checkpoint | None = None
    lines: list[str] = field(default_factory=list)


def _write(path: Path, text: str) -> None:
    """Atomically: a monitor killed mid-write must not lose what it saw."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _previous(state: Path, key: str) -> Checkpoint | None:
    path = state / SEEN
    if not path.exists():
        return None
    return remote.open_checkpoint(path.read_text(encoding="utf-8"), key, what=f"saved {path}")


def _timestamp(
    client: httpx.Client,
    url: str,
    note_text: str,
    size: int,
    roots: Sequence[x509.Certificate] | None,
    out: Outcome,
) -> datetime | None:
    """The genTime of the checkpoint's token, if the TSA is trusted; None otherwise."""
    answer = remote.fetch_timestamp(client, url, size)
    if answer is None:
        out.lines.append("timestamp: none yet (the portal asks its TSA after signing)")
        return None
    try:
        gen_time = tsa.check(answer, note_text.encode("utf-8"), roots=roots)
    except tsa.TimestampError as e:
        raise remote.RemoteError(f"timestamp INVALID: {e}") from None
    if not roots:
        out.lines.append(f"timestamp: genTime {gen_time.isoformat()} NOT VERIFIED (no --tsa-ca)")
        return None
    out.lines.append(f"timestamp: the checkpoint existed at {gen_time.isoformat()} (TSA verified)")
    return gen_time


def _age_since(state: Path, cp: Checkpoint, previous: Checkpoint | None, now: datetime) -> datetime:
    """When this monitor first saw this tree size: the age of a checkpoint with no trusted time."""
    path = state / SEEN_AT
    if previous is not None and previous.size == cp.size and path.exists():
        try:
            return datetime.fromisoformat(path.read_text().strip())
        except ValueError:
            pass
    _write(path, now.isoformat())
    return now


def run(
    url: str,
    *,
    key: str,
    state: Path,
    now: datetime,
    max_age: timedelta | None = None,
    tsa_roots: Sequence[x509.Certificate] | None = None,
    client: httpx.Client | None = None,
) -> Outcome:
    state.mkdir(parents=True, exist_ok=True)
    out = Outcome()
    with contextlib.nullcontext(client) if client is not None else httpx.Client(timeout=30) as http:
        note_text = remote.fetch_checkpoint(http, url)
        cp = remote.open_checkpoint(note_text, key, what="the portal's checkpoint")
        out.checkpoint = cp
        out.lines.append(f"checkpoint: size {cp.size}, root {cp.root.hex()}, signature valid")
        gen_time = _timestamp(http, url, note_text, cp.size, tsa_roots, out)
        previous = _previous(state, key)
        if previous is None:
            out.lines.append("first run: nothing seen before to compare with")
        else:
            hashes = remote.prove_extends(http, url, previous, cp)
            out.lines.append(
                f"consistent with size {previous.size} seen before ({hashes} proof hashes)"
            )
    since = gen_time or _age_since(state, cp, previous, now)
    if max_age is not None and now - since > max_age:
        raise remote.RemoteError(
            f"STALE: the newest checkpoint dates from {since.isoformat()}, "
            f"older than the allowed {max_age}"
        )
    _write(state / SEEN, note_text)
    return out
