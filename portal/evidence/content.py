"""Serving an item's bytes: the original (HTTP Range for playback, or a checked download) and
its thumbnail, each access logged.

The API routes and the staff pages answer with these same responses, so the same request
appends the same custody events whichever way it came in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from portal.auth.models import StaffUser
from portal.db import transaction
from portal.errors import PortalError
from portal.evidence import copies, playbacks, ranges, service
from portal.evidence.models import Evidence
from portal.storage import Storage


class IntegrityError(PortalError):
    status, code = 500, "integrity_failure"


def thumbnail(
    sessions: sessionmaker[Session],
    storage: Storage,
    *,
    user: StaffUser,
    evidence_id: str,
    now: datetime,
) -> Response:
    with transaction(sessions) as db:
        key = service.thumbnail(db, user=user, evidence_id=evidence_id, now=now)
    data = b"".join(storage.read(key))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


def review_copy(
    sessions: sessionmaker[Session],
    storage: Storage,
    *,
    user: StaffUser,
    evidence_id: str,
    range_header: str | None,
    playback: str | None,
    playback_idle: timedelta,
    now: datetime,
) -> StreamingResponse:
    """The playback proxy (a copy for review, sized for it), the requested Range of it so the
    player can seek, in a playback logged before its first byte as the original's are; it
    names its original so nobody takes it for the evidence itself."""
    with transaction(sessions) as db:
        copy, span, playback_id = copies.review_copy(
            db,
            user=user,
            evidence_id=evidence_id,
            range_header=range_header,
            playback_id=playback,
            idle=playback_idle,
            now=now,
        )
        key, source, digest = copy.key, copy.source_sha256, copy.sha256
    headers = {
        **span.headers(),
        "Cache-Control": "private, no-store",
        "ETag": f'"{digest}"',
        "X-Original-SHA256": source,
        "X-Playback": playback_id,
    }
    body = storage.read(key, span.start, span.end)
    return StreamingResponse(body, status_code=span.status, media_type="video/mp4", headers=headers)


def attachment(name: str, *, fallback: str | None = None) -> str:
    """A Content-Disposition that saves as `name` (any script), `fallback` for old clients."""
    return f"attachment; filename=\"{fallback or name}\"; filename*=UTF-8''{quote(name)}"


def _verified(
    sessions: sessionmaker[Session],
    storage: Storage,
    item: Evidence,
    clock: Callable[[], datetime],
) -> Iterator[bytes]:
    """The whole original, hashed as it goes; the last block is held back until it matches."""
    digest = hashlib.sha256()
    held: bytes | None = None
    for block in storage.read(item.storage_key, 0, item.size):
        digest.update(block)
        if held is not None:
            yield held
        held = block
    if digest.hexdigest() != item.sha256:
        with transaction(sessions) as db:
            service.record_integrity_failure(
                db, item=item, actual_sha256=digest.hexdigest(), now=clock()
            )
        # Breaking the stream leaves the client with a short, unusable file, never a bad one.
        raise IntegrityError(f"stored bytes of {item.id} no longer match their SHA-256")
    if held is not None:
        yield held


def original(
    sessions: sessionmaker[Session],
    storage: Storage,
    *,
    user: StaffUser,
    evidence_id: str,
    range_header: str | None,
    download: bool,
    playback: str | None,
    playback_idle: timedelta,
    clock: Callable[[], datetime],
) -> StreamingResponse:
    """The original: the requested Range for playback, or the whole file to download."""
    with transaction(sessions) as db:
        item = service.get_live(db, evidence_id=evidence_id)
        headers: dict[str, Any] = {
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, no-store",
            "ETag": f'"{item.sha256}"',
            "X-Content-SHA256": item.sha256,
        }
        if download:
            service.record_download(db, user=user, item=item, now=clock())
            headers["Content-Disposition"] = attachment(item.filename, fallback=item.sha256)
            headers["Content-Length"] = str(item.size)
            body: Iterator[bytes] = _verified(sessions, storage, item, clock)
            status = 200
        else:
            span = ranges.span(range_header, item.size)
            headers["X-Playback"] = playbacks.record_stream(
                db,
                user=user,
                item=item,
                span=(span.start, span.end),
                playback_id=playback,
                idle=playback_idle,
                now=clock(),
            )
            headers.update(span.headers())
            status = span.status
            body = storage.read(item.storage_key, span.start, span.end)
    return StreamingResponse(body, status_code=status, media_type=item.media_type, headers=headers)


def checked_original(
    sessions: sessionmaker[Session],
    storage: Storage,
    item: Evidence,
    clock: Callable[[], datetime],
) -> Iterator[bytes]:
    """The whole original for a download made elsewhere (a share's recipient): hashed as it
    goes, an integrity failure recorded and the stream broken on a mismatch."""
    return _verified(sessions, storage, item, clock)
