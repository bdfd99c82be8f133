"""Streaming an object version in ranged GETs that resume where a dropped connection left off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]

from portal.storage import ObjectMissing, StorageUnavailable
from portal.storage.s3.bucket import Bucket
from portal.storage.s3.client import Body
from portal.storage.s3.errors import caused_by, translated
from portal.storage.s3.limits import CHUNK, READ_ATTEMPTS


def stream(
    bucket: Bucket, full_key: str, version: str | None, start: int, end: int | None
) -> Iterator[bytes]:
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"bad range [{start}, {end})")
    if end == start:
        if bucket.head(full_key) is None:
            raise ObjectMissing(f"no object {full_key}")
        return iter(())
    # The first request happens now, so a missing key fails here, not on first iteration.
    first = _get(bucket, full_key, version, start, end, None)
    if first is None:
        return iter(())
    return _blocks(bucket, full_key, version, start, end, first)


def _get(
    bucket: Bucket,
    full_key: str,
    version: str | None,
    start: int,
    end: int | None,
    etag: str | None,
) -> tuple[Body, str] | None:
    """Ranged GET; None when the range starts at or past the end of the object."""
    args: dict[str, Any] = bucket.versioned(full_key, version)
    if start or end is not None:
        args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
    if etag is not None:
        args["IfMatch"] = etag
    try:
        with translated(f"GET {full_key}"):
            r = bucket.client.get_object(**args)
    except StorageUnavailable as exc:
        if caused_by(exc, "InvalidRange"):
            return None
        raise
    return r["Body"], str(r.get("ETag", ""))


def _blocks(
    bucket: Bucket,
    full_key: str,
    version: str | None,
    start: int,
    end: int | None,
    first: tuple[Body, str],
) -> Iterator[bytes]:
    body, etag = first
    pos, failures = start, 0
    try:
        while True:
            try:
                for block in body.iter_chunks(CHUNK):
                    pos += len(block)
                    yield block
                return
            except (BotoCoreError, OSError) as exc:
                # A dropped connection mid-stream: resume the same version where we were.
                failures += 1
                body.close()
                if failures >= READ_ATTEMPTS:
                    raise StorageUnavailable(f"reading {full_key} failed: {exc}") from exc
                if end is not None and pos >= end:
                    return
                again = _get(bucket, full_key, version, pos, end, etag or None)
                if again is None:
                    return
                body = again[0]
    finally:
        body.close()
