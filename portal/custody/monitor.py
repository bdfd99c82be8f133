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

from . import remote, rotation, tsa
from .note import Checkpoint, parse_checkpoint, split_note

SEEN = "checkpoint"
SEEN_AT = "checkpoint.seen-at"
KEY = "key"  # the key given and the key followed to now through the log's key rotations


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
    given = key
    if (state / KEY).exists():  # a rotation followed before, from this same starting key
        lines = (state / KEY).read_text(encoding="utf-8").split()
        if len(lines) == 2 and lines[0] == given:
            key = lines[1]
    with contextlib.nullcontext(client) if client is not None else httpx.Client(timeout=30) as http:
        note_text = remote.fetch_checkpoint(http, url)
        previous = _previous(state, key)
        try:
            cp = remote.open_checkpoint(note_text, key, what="the portal's checkpoint")
        except remote.RemoteError as unsigned:
            followed = _follow(http, url, key, previous, out)
            if followed is None:  # no transition leads anywhere from this key
                raise unsigned from None
            key, previous = followed
            cp = remote.open_checkpoint(note_text, key, what="the portal's checkpoint")
        out.checkpoint = cp
        out.lines.append(f"checkpoint: size {cp.size}, root {cp.root.hex()}, signature valid")
        gen_time = _timestamp(http, url, note_text, cp.size, tsa_roots, out)
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
    _write(state / KEY, f"{given}\n{key}\n")
    return out


def _follow(
    http: httpx.Client, url: str, key: str, previous: Checkpoint | None, out: Outcome
) -> tuple[str, Checkpoint | None] | None:
    """Move from `key` through the portal's published key transitions, each one proven to
    extend what was seen before; the key reached and the last transition's checkpoint, or
    None when no transition starts from `key`."""
    moved = False
    for transition in remote.fetch_transitions(http, url):
        try:
            new = rotation.follow(key, transition)
        except rotation.TransitionError:
            continue  # an earlier rotation, or one that does not start from this key
        cp = parse_checkpoint(split_note(transition.checkpoint)[0])
        if previous is not None:
            remote.prove_extends(http, url, previous, cp)
        out.lines.append(f"key rotated at size {cp.size}, through a checkpoint both keys signed")
        key, previous, moved = new, cp, True
    return (key, previous) if moved else None
