"""Timestamps of signed checkpoints: stored beside them, asked for after the checkpoint's
transaction committed, so a TSA that is slow or down never holds up an upload. Checkpoints
left without a token are stamped by the periodic sweep; the gap between a checkpoint's
`signed_at` and its token's genTime shows the delay.

Not a custody event: a token touches no evidence, and logging it would need a checkpoint
of its own, to be timestamped in turn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx
from cryptography import x509
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from portal.custody import tsa
from portal.custody.models import Checkpoint, CheckpointTimestamp
from portal.custody.service import rfc3339
from portal.db import transaction

log = logging.getLogger("portal")
BATCH = 20


def request(
    url: str, message: bytes, *, roots: Sequence[x509.Certificate] | None, timeout: float
) -> bytes:
    """Ask the TSA at `url` for a token over `message`; the DER answer, checked."""
    query = (
        TimestampRequestBuilder()
        .hash_algorithm(HashAlgorithm.SHA256)  # the imprint verifiers expect
        .data(message)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
    ).build()
    try:
        r = httpx.post(
            url,
            content=query.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=timeout,
        )
    except httpx.HTTPError as e:
        raise tsa.TimestampError(f"the TSA at {url} did not answer: {e}") from None
    if r.status_code != 200:
        raise tsa.TimestampError(f"the TSA at {url} answered HTTP {r.status_code}")
    tsa.check(r.content, message, roots=roots, nonce=query.nonce)
    return r.content


def of(db: Session, *, checkpoint: Checkpoint) -> dict[str, Any] | None:
    """The `timestamp` a receipt or bundle carries for `checkpoint`, if it has one yet."""
    found = db.get(CheckpointTimestamp, checkpoint.size)
    if found is None:
        return None
    return tsa.document(found.token, signed_at=rfc3339(checkpoint.signed_at))


def token(db: Session, *, size: int) -> bytes | None:
    found = db.get(CheckpointTimestamp, size)
    return None if found is None else found.token


def unstamped(db: Session, *, limit: int = BATCH) -> list[Checkpoint]:
    """Checkpoints without a token, newest first: the ones receipts now hand out."""
    return list(
        db.scalars(
            select(Checkpoint)
            .outerjoin(CheckpointTimestamp, CheckpointTimestamp.size == Checkpoint.size)
            .where(CheckpointTimestamp.size.is_(None))
            .order_by(Checkpoint.size.desc())
            .limit(limit)
        )
    )


def stamp_missing(
    sessions: sessionmaker[Session],
    *,
    url: str,
    roots: Sequence[x509.Certificate] | None,
    timeout: float,
) -> int:
    """Ask the TSA for a token over each unstamped checkpoint; how many were stamped.

    Stops at the first failure (a TSA that is down is asked again by the next sweep) and
    never raises for the TSA's sake: its failure is logged, the log goes on."""
    with sessions() as db:
        pending = [(cp.size, cp.note) for cp in unstamped(db)]
    done = 0
    for size, note_text in pending:
        try:
            answer = request(url, note_text.encode("utf-8"), roots=roots, timeout=timeout)
            gen_time = tsa.check(answer, note_text.encode("utf-8"), roots=None)
        except tsa.TimestampError as e:
            log.warning("timestamping checkpoint %d failed, retried later: %s", size, e)
            break
        try:
            with transaction(sessions) as db:
                db.add(CheckpointTimestamp(size=size, token=answer, gen_time=gen_time, tsa_url=url))
        except IntegrityError:  # another instance stamped it first: one token is enough
            continue
        done += 1
    return done
