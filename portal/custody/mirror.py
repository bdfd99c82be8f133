"""The log outside the database: tiles in write-once storage and the last signed checkpoint.

As each checkpoint is signed its hash tiles, entry bundles and signed note are written,
write-once and locked, under `log/` in storage (the C2SP tlog-tiles layout), and the note is
kept in a file beside the signing key. Both are judged by the log's own signature, so an
edited copy is refused. A database whose log is behind, or does not extend, the last signed
checkpoint is refused (`LogRolledBack`) before it can sign over or append to a fork.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from portal.custody import merkle, note, tiles
from portal.custody import service as custody
from portal.custody.service import InconsistentLog, LogRolledBack
from portal.errors import PortalError

log = logging.getLogger(__name__)

PREFIX = "log/"
CHECKPOINTS = PREFIX + "checkpoints/"


class LogStore(Protocol):
    """What the mirror needs of a storage backend (portal.storage.Storage has it)."""

    def put_locked(self, key: str, data: bytes, until: datetime) -> None: ...

    def list_keys(self, prefix: str, *, start_after: str = "") -> Iterator[str]: ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...

    def exists(self, key: str) -> bool: ...


def checkpoint_key(size: int) -> str:
    # Zero-padded so that keys sort by size and a listing can start after the last seen.
    return f"{CHECKPOINTS}{size:020d}"


@dataclass(frozen=True)
class Signed:
    checkpoint: note.Checkpoint
    note: str


@dataclass
class Mirror:
    store: LogStore
    remembered: Path  # the last signed checkpoint, beside the signing key
    verifier: str
    retention: timedelta
    clock: Callable[[], datetime]
    refused: str | None = None  # why the database's log is refused, while it is

    # --- reading --------------------------------------------------------------------------

    def read(self, key: str) -> bytes:
        return b"".join(self.store.read(key))

    def fetch(self, path: str) -> bytes:
        """A published path (`checkpoint`, `tile/...`), for `tiles.TileReader`."""
        if path == "checkpoint":
            last = self.last_signed()
            if last is None:
                raise FileNotFoundError("no checkpoint has been published")
            return last.note.encode()
        return self.read(PREFIX + tiles.parse_tile_path(path).path)

    def _open(self, text: str, where: str) -> Signed:
        try:
            return Signed(note.parse_checkpoint(note.open_note(text, self.verifier)), text)
        except (note.NoteError, UnicodeError) as exc:
            raise LogRolledBack(f"the checkpoint in {where} does not verify: {exc}") from exc

    def last_signed(self) -> Signed | None:
        """The larger of the checkpoint beside the key and the newest one in storage."""
        found = None
        if self.remembered.exists():
            found = self._open(self.remembered.read_text("utf-8"), str(self.remembered.name))
        after = checkpoint_key(found.checkpoint.size) if found else ""
        newer = list(self.store.list_keys(CHECKPOINTS, start_after=after))
        if newer:
            found = self._open(self.read(newer[-1]).decode("utf-8"), newer[-1])
        return found

    # --- the guard ------------------------------------------------------------------------

    def check(self, db: Session) -> None:
        """Refuse (and remember refusing) a database whose log does not extend the last
        signed checkpoint; a refusal is lifted as soon as the database is recovered."""
        try:
            last = self.last_signed()
            self.refused = None if last is None else contradiction(db, last)
        except LogRolledBack as exc:
            self.refused = exc.message
        if self.refused is not None:
            raise LogRolledBack(self.refused)

    # --- writing --------------------------------------------------------------------------

    def _put(self, key: str, data: bytes) -> None:
        if self.store.exists(key):
            if self.read(key) != data:
                raise InconsistentLog(f"{key} in storage differs from the database's log")
            return
        self.store.put_locked(key, data, self.clock() + self.retention)

    def publish(self, db: Session, signed_note: str) -> None:
        """Write what `signed_note`'s tree adds to storage, then remember the note."""
        new = self._open(signed_note, "the database").checkpoint
        last = self.last_signed()
        old = 0 if last is None else last.checkpoint.size
        if last is not None and old > new.size:
            return  # an older checkpoint than the one already published
        get = custody.node_fetcher(db)
        for tile in tiles.tiles_between(old, new.size):
            if tile.level < 0:
                first = tile.index * tiles.WIDTH
                rows = custody.entries(db, start=first, end=first + tile.width)
                data = tiles.entry_bundle([r.event for r in rows])
            else:
                data = tiles.tile_bytes(tile, get)
            self._put(PREFIX + tile.path, data)
        self._put(checkpoint_key(new.size), signed_note.encode())
        self._remember(signed_note)

    def _remember(self, signed_note: str) -> None:
        tmp = self.remembered.with_name(self.remembered.name + ".tmp")
        self.remembered.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Owner-only like the key beside it (open() would follow the umask).
        tmp.unlink(missing_ok=True)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(signed_note)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.remembered)

    def catch_up(self, db: Session) -> None:
        """On start: check, then publish the database's newest checkpoint if storage lacks
        it (a crash or a storage outage after signing)."""
        self.check(db)
        latest = custody.latest_checkpoint(db)
        last = self.last_signed()
        if latest is not None and (last is None or latest.size > last.checkpoint.size):
            self.publish(db, latest.note)


def contradiction(db: Session, last: Signed) -> str | None:
    """Why the database's log is not the signed one or an extension of it; None if it is."""
    cp = last.checkpoint
    size = custody.tree_size(db)
    head = f"the checkpoint of size {cp.size} (root {base64.b64encode(cp.root).decode()})"
    if size < cp.size:
        return (
            f"the database's log holds {size} entries but {head} was signed: the database "
            "was restored from an older copy or edited; run `portal custody recover`"
        )
    try:
        root = merkle.root(cp.size, custody.node_fetcher(db))
    except merkle.MissingNodeError as exc:
        return f"the database's log lacks nodes of {head}: {exc}"
    if root != cp.root:
        return f"the database's log contradicts {head}: its first {cp.size} entries differ"
    return None


def publish_quietly(mirror: Mirror, db: Session, signed_note: str) -> None:
    """Publish, logging a storage failure: the next signing or start publishes again."""
    try:
        mirror.publish(db, signed_note)
    except (OSError, PortalError):
        log.exception("publishing the custody log's tiles failed")
