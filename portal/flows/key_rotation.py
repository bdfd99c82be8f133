"""Rotating the contact key: every witness's contact details, incident text and device
metadata (everything portal.sealed seals) re-encrypted under a new key.

Resumable at every point. The keys the old one derived (rate limits, recipient commitments)
are pinned first; the key file is then replaced in one rename by one holding the new key
above the old (running instances reload it: portal.keys.ContactCipher); records are
re-encrypted in small committed batches, each skipped once it opens with the new key alone;
the staff's sealed TOTP secrets (portal.auth.mfa) go the same way, in one batch (a few rows).
A run killed anywhere is finished by running it again, which keeps the new key. The old key
leaves the file only on request, after every record was checked to open without it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select

from portal.auth.models import StaffSecondFactor
from portal.custody import service as custody
from portal.custody.actors import CLI
from portal.custody.events import EventType
from portal.db import transaction
from portal.errors import Conflict
from portal.evidence.models import Evidence
from portal.keys import contact_keys, pin_derived_keys
from portal.runtime import Runtime
from portal.submissions.models import Submission


class RotationRefused(Conflict):
    code = "rotation_refused"


@dataclass(frozen=True)
class ContactRotation:
    key_id: str
    reencrypted: int  # by this run
    already: int  # found under the new key (a resumed run's earlier batches)


def key_id(key: bytes) -> str:
    """A name for a key that reveals nothing of it (its SHA-256, shortened)."""
    return hashlib.sha256(b"portal contact key\n" + key).hexdigest()[:16]


def write_keys(path: Path, keys: list[bytes]) -> None:
    """Replace the key file in one rename (0600, synced), so a kill leaves old or new."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(b"".join(k + b"\n" for k in keys))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


Sealed = type[Submission] | type[Evidence]
SEALED: tuple[tuple[Sealed, str], ...] = (
    (Submission, "contact_encrypted"),
    (Submission, "incident_encrypted"),
    (Evidence, "device_sealed"),
)
"""Every value sealed under the contact key (portal.sealed): each is rotated and checked."""


def _batch(rt: Runtime, sealed: tuple[Sealed, str], after: str, size: int) -> list[str]:
    model, column = sealed
    with rt.readers() as db:
        query = (
            select(model.id)
            .where(getattr(model, column).is_not(None), model.id > after)
            .order_by(model.id)
            .limit(size)
        )
        return list(db.scalars(query))


def _reencrypt(
    rt: Runtime, sealed: tuple[Sealed, str], ids: list[str], new: Fernet, every: MultiFernet
) -> tuple[int, int]:
    model, column = sealed
    done = already = 0
    with transaction(rt.sessions) as db:
        rows = db.scalars(select(model).where(model.id.in_(ids)).with_for_update())
        for row in cast("list[Submission | Evidence]", rows.all()):
            row_id, token = row.id, getattr(row, column)
            if token is None:
                continue
            try:
                new.decrypt(token)
                already += 1
                continue
            except InvalidToken:
                pass
            try:
                setattr(row, column, every.rotate(token))
            except InvalidToken:
                raise RotationRefused(
                    f"the {column} of {model.__tablename__} row {row_id} opens with no key in "
                    "the contact key file; put the key it was sealed with back and run again"
                ) from None
            done += 1
    return done, already


def _reseal_second_factors(rt: Runtime, new: Fernet, every: MultiFernet) -> tuple[int, int]:
    done = already = 0
    with transaction(rt.sessions) as db:
        query = select(StaffSecondFactor).where(StaffSecondFactor.secret_sealed.is_not(None))
        for row in db.scalars(query.with_for_update()):
            token = row.secret_sealed or b""
            try:
                new.decrypt(token)
                already += 1
                continue
            except InvalidToken:
                pass
            try:
                row.secret_sealed = every.rotate(token)
            except InvalidToken:
                raise RotationRefused(
                    f"the second factor of staff account {row.user_id} opens with no key in "
                    "the contact key file; put the key it was sealed with back and run again"
                ) from None
            done += 1
    return done, already


def _second_factors_left(rt: Runtime, new: Fernet) -> int:
    left = 0
    with rt.readers() as db:
        for token in db.scalars(select(StaffSecondFactor.secret_sealed)):
            try:
                new.decrypt(token or b"")
            except InvalidToken:
                left += token is not None
    return left


def rotate_contact_key(
    rt: Runtime, *, batch: int = 200, progress: Callable[[int], None] | None = None
) -> ContactRotation:
    """Start, or finish, a rotation of the contact key; log it when every record is done."""
    path = rt.settings.resolved_contact_key_file
    keys = contact_keys(path)
    if len(keys) == 1:
        pin_derived_keys(path)
        keys = [Fernet.generate_key(), *keys]
        write_keys(path, keys)
    new, every = Fernet(keys[0]), MultiFernet([Fernet(k) for k in keys])
    done, already = _reseal_second_factors(rt, new, every)
    for sealed in SEALED:
        after = ""
        while ids := _batch(rt, sealed, after, batch):
            d, a = _reencrypt(rt, sealed, ids, new, every)
            done, already, after = done + d, already + a, ids[-1]
            if progress is not None:
                progress(done + already)
    result = ContactRotation(key_id=key_id(keys[0]), reencrypted=done, already=already)
    with transaction(rt.sessions) as db:
        custody.append(
            db,
            type=EventType.KEY_CONTACT_ROTATED,
            actor=CLI,
            subject=result.key_id,
            details={"key": result.key_id, "reencrypted": done, "already": already},
            at=rt.clock(),
        )
    return result


def retire_old_contact_keys(rt: Runtime, *, batch: int = 200) -> int:
    """Remove every key but the newest, once every record opens with it alone."""
    path = rt.settings.resolved_contact_key_file
    keys = contact_keys(path)
    if len(keys) == 1:
        raise RotationRefused("the contact key file holds one key: there is no old key to remove")
    new = Fernet(keys[0])
    left, factors = 0, _second_factors_left(rt, new)
    for model, column in SEALED:
        after = ""
        while ids := _batch(rt, (model, column), after, batch):
            with rt.readers() as db:
                for row in db.scalars(select(model).where(model.id.in_(ids))):
                    try:
                        new.decrypt(getattr(row, column) or b"")
                    except InvalidToken:
                        left += 1
            after = ids[-1]
    if left or factors:
        raise RotationRefused(
            f"{left} sealed witness values still need an old key"
            + (f" (and {factors} staff second factors)" if factors else "")
            + "; run "
            "`portal keys rotate-contact` to finish the rotation first"
        )
    with transaction(rt.sessions) as db:
        custody.append(
            db,
            type=EventType.KEY_CONTACT_RETIRED,
            actor=CLI,
            subject=key_id(keys[0]),
            details={"key": key_id(keys[0]), "removed": len(keys) - 1},
            at=rt.clock(),
        )
        write_keys(path, keys[:1])  # inside the transaction: no event without the removal
    return len(keys) - 1
