"""Checking a running portal from outside: its public checkpoint, consistency proofs between
signed sizes, and checkpoint timestamps. Every answer is untrusted: nothing is believed that
the log's public key, a proof or a trusted TSA does not bind, and a malformed answer becomes
a `RemoteError` with a clear message, never a crash.

Consistency proofs are computed here from the log's public hash tiles (`tiles.TileReader`),
never taken from the portal's proof endpoint: a server that lies about its tree can only
serve tiles that fail to hash to a root its key signed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .merkle import ProofError
from .note import Checkpoint, open_note, parse_checkpoint
from .offline import Report
from .rotation import Transition
from .tiles import TileError, TileReader

MAX_ANSWER = 1 << 20  # a checkpoint, a proof or a token is a few kilobytes


class RemoteError(ValueError):
    """The portal's answer is unusable: unreachable, malformed, or not proven."""


class ForkError(RemoteError):
    """Two checkpoints signed by the log's key that cannot both be true."""


class RollbackError(RemoteError):
    """The portal shows a smaller tree than one it signed before."""


class MissingTile(RemoteError, LookupError):
    """The portal has no such tile (a LookupError, so `TileReader` tries the full tile)."""


def _get(client: httpx.Client, url: str, *, missing_ok: bool = False) -> bytes | None:
    try:
        r = client.get(url)
    except httpx.HTTPError as e:
        raise RemoteError(f"{url}: no answer ({e})") from None
    if missing_ok and r.status_code == 404:
        return None
    if r.status_code != 200:
        raise RemoteError(f"{url}: HTTP {r.status_code}")
    if len(r.content) > MAX_ANSWER:
        raise RemoteError(f"{url}: answer of {len(r.content)} bytes is too large")
    return r.content


def _base(url: str) -> str:
    return url.rstrip("/") + "/api/v1/log"


def fetch_checkpoint(client: httpx.Client, url: str) -> str:
    data = _get(client, f"{_base(url)}/checkpoint")
    assert data is not None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteError("the checkpoint is not UTF-8 text") from None


def fetch_timestamp(client: httpx.Client, url: str, size: int) -> bytes | None:
    """The RFC 3161 answer over the checkpoint of `size`, or None if it has none yet."""
    return _get(client, f"{_base(url)}/timestamp/{size}", missing_ok=True)


def tile_fetcher(client: httpx.Client, url: str) -> Callable[[str], bytes]:
    """`fetch(path)` for a `TileReader` over the portal's public tiles."""

    def fetch(path: str) -> bytes:
        data = _get(client, f"{_base(url)}/{path}", missing_ok=True)
        if data is None:
            raise MissingTile(f"{_base(url)}/{path}: not found")
        return data

    return fetch


def fetch_transitions(client: httpx.Client, url: str) -> list[Transition]:
    """The log key's rotations the portal publishes (none from a portal that has none)."""
    data = _get(client, f"{_base(url)}/key-transitions", missing_ok=True)
    if data is None:
        return []
    try:
        items = json.loads(data)
        return [Transition.from_json(t) for t in items]
    except (ValueError, TypeError, AttributeError) as e:
        raise RemoteError(f"the key transitions are malformed: {e}") from None


def open_checkpoint(text: str, key: str, *, what: str) -> Checkpoint:
    """The checkpoint in a signed note, once its signature by `key` verifies."""
    try:
        return parse_checkpoint(open_note(text, key))
    except ValueError as e:  # NoteError, or a key the crypto library refuses
        raise RemoteError(f"{what}: signature or format INVALID: {e}") from None


def prove_extends(client: httpx.Client, url: str, old: Checkpoint, new: Checkpoint) -> int:
    """Prove that `new` extends `old` (both signed by the log's key) from the public tiles of
    `new`'s tree; how many proof hashes that took.

    ForkError or RollbackError name what was caught."""
    if new.origin != old.origin:
        raise RemoteError(f"origin changed from {old.origin!r} to {new.origin!r}")
    if new.size < old.size:
        raise RollbackError(
            f"ROLLBACK: the log now shows size {new.size}, smaller than the size {old.size} "
            "it signed before"
        )
    if new.size == old.size or old.size == 0:
        if new.size == old.size and new.root != old.root:
            raise ForkError(
                f"FORK: two different roots signed for size {new.size}: "
                f"{old.root.hex()} and {new.root.hex()}"
            )
        return 0
    try:
        proof = TileReader(tile_fetcher(client, url)).consistency_proof(old, new)
    except MissingTile as e:
        raise RemoteError(f"cannot prove consistency: the portal withholds a tile ({e})") from None
    except (ProofError, TileError) as e:
        raise ForkError(
            f"FORK: the checkpoint of size {new.size} is not proven to extend the one of size "
            f"{old.size} seen before: its tiles do not give a consistency proof ({e})"
        ) from None
    return len(proof)


def check_against(
    report: Report,
    receipt: Mapping[str, Any],
    url: str,
    key: str | None,
    client: httpx.Client | None = None,
) -> None:
    """That the log at `url` today still holds the receipt's checkpoint: its current
    checkpoint, signed by the log's key, is proven consistent with the receipt's from the
    log's tiles. Every event the receipt proves is then still in the log."""
    log = receipt.get("log")
    named = log.get("public_key") if isinstance(log, Mapping) else None
    key = key or (named if isinstance(named, str) else None)
    note_text = receipt.get("checkpoint")
    if key is None or not isinstance(note_text, str):
        report.check(False, f"--against {url}: the receipt has no checkpoint or key to compare")
        return
    try:
        old = open_checkpoint(note_text, key, what="the receipt's checkpoint")
        with contextlib.nullcontext(client) if client else httpx.Client(timeout=30) as http:
            new = open_checkpoint(
                fetch_checkpoint(http, url), key, what=f"the checkpoint {url} serves"
            )
            prove_extends(http, url, old, new)
    except RemoteError as e:
        report.check(False, f"--against {url}: {e}")
        return
    report.check(
        True,
        f"the log at {url} (size {new.size} today) is proven to extend the receipt's "
        f"checkpoint (size {old.size}): the receipt's events are still in it",
    )
