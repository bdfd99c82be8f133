"""Rotating the log signing key through a checkpoint both keys sign.

Resumable at every point: the new key is made first beside the old (`log.key.next`, 0600);
the `key.log_rotated` event naming both verifier keys and the transition checkpoint covering
it, signed by both, are committed in one transaction (a rerun finds them and does not sign
twice); the old verifier key is added to `log.key.previous`, and only then does the new key
replace the old one in one rename. Receipts and bundles signed before still verify with the
old key; a verifier moves to the new key only through the transition (portal.custody.rotation).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from portal.custody import note
from portal.custody import service as custody
from portal.custody.actors import CLI
from portal.custody.events import EventType
from portal.custody.mirror import publish_quietly
from portal.custody.models import Checkpoint, LogEntry
from portal.custody.rotation import Transition
from portal.db import transaction
from portal.keys import read_or_create_secret
from portal.runtime import Runtime


@dataclass(frozen=True)
class LogRotation:
    old_key: str
    new_key: str
    transition_size: int


def next_key_file(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".next")


def previous_keys_file(key_file: Path) -> Path:
    """The verifier keys the log was signed with before, one a line, oldest first."""
    return key_file.with_name(key_file.name + ".previous")


def _transition_of(rt: Runtime, new_key: str) -> int | None:
    """The transition checkpoint's size, if this rotation was already committed."""
    with rt.readers() as db:
        for seq, event in db.execute(
            select(LogEntry.seq, LogEntry.event).where(LogEntry.type == EventType.KEY_LOG_ROTATED)
        ):
            if json.loads(event)["details"]["new_key"] == new_key:
                return int(seq) + 1
    return None


def _commit_transition(rt: Runtime, old_key: str, new_key: str, new_signer: str) -> int:
    with transaction(rt.sessions) as db:
        custody.append(
            db,
            type=EventType.KEY_LOG_ROTATED,
            actor=CLI,
            subject="log",
            details={"old_key": old_key, "new_key": new_key},
            at=rt.clock(),
        )
        cp = custody.sign_checkpoint(
            db,
            signer=rt.log_signer,
            origin=rt.settings.log_origin,
            at=rt.clock(),
            force=True,
            cosigner=new_signer,
        )
    with rt.readers() as db:
        publish_quietly(rt.log_mirror, db, cp.note)
    return cp.size


def _keep_previous(key_file: Path, old_key: str) -> None:
    path = previous_keys_file(key_file)
    held = path.read_text("ascii").split() if path.exists() else []
    if old_key in held:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write("".join(k + "\n" for k in [*held, old_key]))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def rotate_log_key(rt: Runtime) -> LogRotation:
    """Start, or finish, a rotation of the log signing key (the portal's instances must be
    restarted afterwards: each holds the key it started with)."""
    key_file = rt.settings.resolved_log_key_file
    old_key = rt.log_verifier
    fresh = (note.generate_signer(rt.settings.log_origin) + "\n").encode()
    new_signer = read_or_create_secret(next_key_file(key_file), fresh).decode("ascii")
    new_key = note.verifier_from_signer(new_signer)
    size = _transition_of(rt, new_key)
    if size is None:
        size = _commit_transition(rt, old_key, new_key, new_signer)
    _keep_previous(key_file, old_key)
    os.replace(next_key_file(key_file), key_file)
    return LogRotation(old_key=old_key, new_key=new_key, transition_size=size)


def transitions(rt: Runtime) -> list[Transition]:
    """Every rotation's transition, oldest first, for verifiers that hold an older key."""
    out = []
    with rt.readers() as db:
        rows = db.execute(
            select(LogEntry.seq, LogEntry.event)
            .where(LogEntry.type == EventType.KEY_LOG_ROTATED)
            .order_by(LogEntry.seq)
        ).all()
        for seq, event in rows:
            cp = db.get(Checkpoint, seq + 1)
            if cp is None:
                continue
            proof = custody.inclusion(db, index=seq, size=cp.size)
            out.append(Transition(checkpoint=cp.note, event=event, index=seq, proof=proof))
    return out
