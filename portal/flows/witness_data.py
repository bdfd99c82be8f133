"""Sealing witness text that an older version stored in the clear: incident place and
description, and the GPS, make, model and tags in each item's media metadata.

Not a migration: Alembic never holds the contact key (it lives outside the database), so the
portal does it at start, with the key, before it serves anyone. Idempotent (only rows still
holding plaintext are touched, and each is emptied in the transaction that seals it),
resumable in batches, and logged: one `witness.data_sealed` event per batch, with counts only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from portal.custody import service as custody
from portal.custody.events import EventType
from portal.db import transaction
from portal.evidence.models import Evidence
from portal.keys import ContactCipher
from portal.runtime import Runtime
from portal.sealed import DEVICE_KEYS, incident, seal, split_media, unseal
from portal.submissions.models import Submission

log = logging.getLogger("portal")


@dataclass(frozen=True)
class Sealed:
    submissions: int
    items: int


def _plain_submissions(db: Session, size: int) -> list[Submission]:
    query = select(Submission).where(
        or_(Submission.incident_place.is_not(None), Submission.incident_description.is_not(None))
    )
    return list(db.scalars(query.order_by(Submission.id).limit(size).with_for_update()))


def _plain_items(db: Session, size: int) -> list[Evidence]:
    # The JSON's text names a device key only in rows written before sealing; the check in
    # Python below is the real test, the LIKE only keeps the scan to those rows.
    text = cast(Evidence.media_info, Text)
    query = select(Evidence).where(or_(*(text.like(f'%"{k}"%') for k in DEVICE_KEYS)))
    found = db.scalars(query.order_by(Evidence.id).limit(size).with_for_update())
    return [e for e in found if e.media_info and set(e.media_info) & set(DEVICE_KEYS)]


def _seal_submission(cipher: ContactCipher, sub: Submission) -> None:
    # A row sealed before keeps what it sealed where the plaintext says nothing.
    before = unseal(cipher, sub.incident_encrypted)
    text = incident(
        sub.incident_place or before.get("place"),
        sub.incident_description or before.get("description"),
    )
    sub.incident_encrypted = seal(cipher, text)
    sub.incident_place = sub.incident_description = None


def _seal_item(cipher: ContactCipher, item: Evidence) -> None:
    assert item.media_info is not None
    public, device = split_media(item.media_info)
    item.device_sealed = seal(cipher, {**unseal(cipher, item.device_sealed), **device})
    item.media_info = public


def _batch(rt: Runtime, size: int) -> tuple[int, int]:
    with transaction(rt.sessions) as db:
        subs = _plain_submissions(db, size)
        items = _plain_items(db, size)
        for sub in subs:
            _seal_submission(rt.contact_cipher, sub)
        for item in items:
            _seal_item(rt.contact_cipher, item)
        if subs or items:
            custody.append(
                db,
                type=EventType.WITNESS_DATA_SEALED,
                actor=custody.SYSTEM,
                subject="witness-data",
                details={"submissions": len(subs), "items": len(items)},
                at=rt.clock(),
            )
        return len(subs), len(items)


def seal_plaintext(rt: Runtime, *, batch: int = 200) -> Sealed:
    """Seal every plaintext incident and device field; nothing to do is the usual case."""
    subs = items = 0
    while True:
        s, i = _batch(rt, batch)
        subs, items = subs + s, items + i
        if s < batch and i < batch:
            break
    if subs or items:
        log.info("sealed the plaintext witness data of %d submissions and %d items", subs, items)
    return Sealed(submissions=subs, items=items)
