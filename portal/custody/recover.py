"""Putting back log entries a restored database lost, from the tiles in storage.

Every entry read back is checked against the last signed checkpoint (its leaf hash against
the level-0 tile, the tiles against the signed root) and the database's own entries against
the same tiles, so recovery can only restore the signed log, never merge a fork into it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.custody import merkle, note, tiles
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.custody.mirror import CHECKPOINTS, Mirror, checkpoint_key, contradiction
from portal.custody.models import Checkpoint, LogEntry, LogHead, LogNode
from portal.errors import NotFound


@dataclass
class Recovery:
    checkpoint: note.Checkpoint
    before: int  # entries the database held
    restored: list[LogEntry] = field(default_factory=list)
    checkpoints: int = 0  # signed checkpoints put back


def recover(db: Session, mirror: Mirror, *, now: datetime) -> Recovery:
    """Restore the entries, tree nodes and checkpoints the database lacks (in `db`'s
    transaction, under the head row's lock)."""
    last = mirror.last_signed()
    if last is None:
        raise NotFound("storage holds no signed checkpoint to recover from")
    cp = last.checkpoint
    size = int(
        db.execute(select(LogHead.size).where(LogHead.id == 1).with_for_update()).scalar_one()
    )
    found = Recovery(cp, size)
    if size >= cp.size:
        reason = contradiction(db, last)
        if reason is not None:
            raise custody.InconsistentLog(f"{reason}; recovery cannot merge a fork")
        return found
    reader = tiles.TileReader(mirror.fetch)
    # Nodes below `size` are the same in the larger tree: read from its tiles.
    signed_root = merkle.root(size, reader.node_fetcher(cp.size))
    if merkle.root(size, custody.node_fetcher(db)) != signed_root:
        raise custody.InconsistentLog(
            f"the database's first {size} entries are not those of the signed log "
            f"(checkpoint {cp.size}); recovery cannot merge a fork"
        )
    made: dict[merkle.NodeId, bytes] = {}
    get = custody.node_fetcher(db)
    for seq, data in reader.entries(cp):
        if seq < size:
            continue
        found.restored.append(_restore(db, seq, data, made, get))
    db.execute(update(LogHead).where(LogHead.id == 1).values(size=cp.size))
    found.checkpoints = _restore_checkpoints(db, mirror, now=now)
    db.flush()
    # The last checkpoint's own signing event came after it, so no tile holds it: record
    # the signing again (at recovery time), as the entry that follows every checkpoint.
    custody.append(
        db,
        type=EventType.LOG_CHECKPOINT_SIGNED,
        actor=custody.SYSTEM,
        subject="log",
        details={"size": cp.size, "root": base64.b64encode(cp.root).decode()},
        at=now,
    )
    return found


def _restore(
    db: Session,
    seq: int,
    data: bytes,
    made: dict[merkle.NodeId, bytes],
    get: merkle.NodeFetcher,
) -> LogEntry:
    event = json.loads(data)
    leaf = merkle.leaf_hash(data)
    entry = LogEntry(
        seq=seq,
        at=datetime.fromisoformat(event["at"]),
        type=event["type"],
        subject=event["subject"],
        event=data,
        leaf_hash=leaf,
    )
    db.add(entry)
    wanted = merkle.siblings_needed_for_append(seq)
    siblings = {n: made[n] for n in wanted if n in made}
    siblings.update(get([n for n in wanted if n not in made]))
    for level, index, digest in merkle.nodes_for_append(seq, leaf, siblings):
        made[(level, index)] = digest
        db.add(LogNode(level=level, index=index, hash=digest))
    return entry


def _restore_checkpoints(db: Session, mirror: Mirror, *, now: datetime) -> int:
    held = custody.latest_checkpoint(db)
    after = checkpoint_key(held.size) if held is not None else ""
    db.flush()
    signed_at = _signing_times(db, held.size if held is not None else 0)
    count = 0
    for key in mirror.store.list_keys(CHECKPOINTS, start_after=after):
        text = mirror.read(key).decode("utf-8")
        cp = note.parse_checkpoint(note.open_note(text, mirror.verifier))
        if db.get(Checkpoint, cp.size) is None:
            at = signed_at.get(cp.size, now)
            db.add(Checkpoint(size=cp.size, root=cp.root, note=text, signed_at=at))
            count += 1
    return count


def _signing_times(db: Session, after: int) -> dict[int, datetime]:
    """When each checkpoint was signed, from the `log.checkpoint_signed` events."""
    rows = db.scalars(
        select(LogEntry).where(
            LogEntry.type == str(EventType.LOG_CHECKPOINT_SIGNED), LogEntry.seq >= after
        )
    )
    return {int(json.loads(r.event)["details"]["size"]): r.at for r in rows}
