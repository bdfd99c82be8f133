"""Reading a partial back: S3 cannot read the parts of an unfinished multipart upload, so the
committed bytes are made into an object first (see the package docstring)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable

from portal.storage import ObjectMissing, StorageUnavailable
from portal.storage.s3 import multipart
from portal.storage.s3.bucket import Bucket
from portal.storage.s3.errors import UploadGone
from portal.storage.s3.state import Mpu, Part, PartialState


def materialize(bucket: Bucket, upload_id: str, st: PartialState) -> tuple[str, str | None] | None:
    """(key, version) of an object holding exactly the partial's committed bytes."""
    d = bucket.partial_dir(upload_id)
    if not st.parts:
        return (d + st.pending.name, st.pending.version) if st.pending else None
    assert st.mpu is not None
    target = d + st.mpu.name
    found = bucket.head(target)
    if found is None or found[0] != st.size:
        with contextlib.suppress(UploadGone):  # completed before; the size tells
            multipart.complete(
                bucket, upload_id, st.mpu, _with_pending(bucket, upload_id, st.mpu, st, st.parts)
            )
        # Some servers answer a repeated complete with success and change nothing.
        found = bucket.head(target)
    if found is not None and found[0] == st.size:
        return target, found[1]
    return _rebuild(bucket, upload_id, st, found)


def rebase(bucket: Bucket, upload_id: str, committed: PartialState) -> tuple[Mpu, list[Part]]:
    """A new multipart upload holding the committed parts, copied server-side."""
    source = materialize(bucket, upload_id, committed)
    # A new name: completing it must never overwrite the object it copies from.
    mpu = multipart.create(bucket, upload_id, f"data-{secrets.token_hex(4)}")
    if source is None:
        return mpu, []
    return mpu, multipart.copy_parts(bucket, upload_id, mpu, source, committed.parts_size)


def _with_pending(
    bucket: Bucket, upload_id: str, mpu: Mpu, st: PartialState, parts: Iterable[Part]
) -> list[Part]:
    """`parts`, then the pending bytes uploaded as the last part (it may be small)."""
    parts = list(parts)
    if st.pending is not None and st.pending.size:
        d = bucket.partial_dir(upload_id)
        tail = bucket.get_bytes(d + st.pending.name, st.pending.version, st.pending.size)
        number = len(parts) + 1
        etag = multipart.upload_part(bucket, upload_id, mpu, number, tail)
        parts.append(Part(number, etag, len(tail)))
    return parts


def _rebuild(
    bucket: Bucket, upload_id: str, st: PartialState, found: tuple[int, str | None] | None
) -> tuple[str, str | None]:
    """The upload was completed with fewer bytes than now committed: copy and append."""
    assert st.mpu is not None
    d = bucket.partial_dir(upload_id)
    name = f"full-{st.size}"
    done = bucket.head(d + name)
    if done is not None and done[0] == st.size:
        return d + name, done[1]
    if found is None or found[0] < st.parts_size:
        raise ObjectMissing(f"partial {upload_id} is gone (its multipart upload ended)")
    mpu = multipart.create(bucket, upload_id, name)
    try:
        source = (d + st.mpu.name, found[1])
        parts = multipart.copy_parts(bucket, upload_id, mpu, source, st.parts_size)
        multipart.complete(bucket, upload_id, mpu, _with_pending(bucket, upload_id, mpu, st, parts))
    except BaseException:
        multipart.abort_quietly(bucket, upload_id, mpu)
        raise
    done = bucket.head(d + name)
    if done is None or done[0] != st.size:
        raise StorageUnavailable(f"rebuilding partial {upload_id} gave the wrong size")
    return d + name, done[1]
