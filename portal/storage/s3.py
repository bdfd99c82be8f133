"""S3 backend (AWS S3, MinIO, Ceph, SeaweedFS), for running more than one app instance.

Layout under the prefix:

    <key>                                       originals and derivatives, write-once
    partial/<upload_id>/data[-<nonce>]          a multipart upload's key (one per generation)
    partial/<upload_id>/pending-<start>-<nonce> bytes after the last full part, at <start>
    partial/<upload_id>/full-<size>             a rebuilt copy of the first <size> bytes

A partial is a multipart upload, as in tusd's s3store. Parts are `part_size` bytes (8 MiB; S3
wants at least 5 MiB for all parts but the last), uploaded as soon as one is full, so a PATCH is
never held in memory. `commit()` stores what is left over as a *pending object* and returns a
JSON state naming the upload, its parts (number, ETag, size) and the pending object; the next
`open_partial`, in whatever process, starts its buffer with the pending bytes. Nothing a
committed state refers to is overwritten or deleted before a later state has superseded it:
new parts take numbers past the committed ones, and every pending object gets a fresh name.
A superseded pending object is deleted by the first `open_partial` that sees the state which
replaced it; everything else left over goes when the partial is finished or deleted.

S3 cannot read the parts of an unfinished multipart upload. Reading a partial back
(`read_partial`, `read_partial_head`) therefore *materialises* it: it completes the upload
with the pending bytes as its last part, which finishing would have done anyway. A writer that
later finds its upload completed (NoSuchUpload) starts a new one whose first parts are
server-side copies of the committed bytes (UploadPartCopy). A committed prefix of an upload
has only one possible content (tus only appends), so "an object of the committed size" is
always the committed content; that is what makes every step here safe to repeat.

Object Lock is applied per object version with `set_retention` / `set_legal_hold`, never
through bucket defaults. On a bucket without Object Lock both are no-ops and the retention
engine's own check is the only guard: use an Object Lock bucket in production.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import boto3  # type: ignore[import-untyped]
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from portal.errors import PortalError
from portal.storage import (
    InsufficientStorage,
    ObjectLocked,
    ObjectMissing,
    StorageUnavailable,
    StoredObject,
    StoredPartial,
)

log = logging.getLogger("portal.storage.s3")

MiB = 1024 * 1024
GiB = 1024 * MiB
PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000
MAX_COPY_PART = 5 * GiB
CHUNK = MiB
PIPELINE = 2  # parts in flight per PATCH (README, S3 ingest)
IN_FLIGHT = 16  # parts in flight across all PATCHes of one process
READ_ATTEMPTS = 3

Checksum = Literal["when_required", "when_supported"]
LockMode = Literal["GOVERNANCE", "COMPLIANCE"]

_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})
_FULL = frozenset({"QuotaExceeded", "InsufficientStorage", "XMinioStorageFull", "StorageFull"})
_LOCK_REFUSALS = frozenset({"AccessDenied", "ObjectLocked"})
_NO_LOCK_CONFIG = frozenset(
    {
        "ObjectLockConfigurationNotFoundError",
        "NoSuchObjectLockConfiguration",
        "NotImplemented",
        "MethodNotAllowed",
    }
)


class _Paginator(Protocol):
    def paginate(self, **kwargs: Any) -> Iterable[dict[str, Any]]: ...


class _Client(Protocol):
    """The part of boto3's (untyped) S3 client used here."""

    def abort_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...
    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...
    def copy(self, **kwargs: Any) -> None: ...
    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_object_lock_configuration(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_object_retention(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_paginator(self, name: str) -> _Paginator: ...
    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_object_legal_hold(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_object_retention(self, **kwargs: Any) -> dict[str, Any]: ...
    def upload_part(self, **kwargs: Any) -> dict[str, Any]: ...
    def upload_part_copy(self, **kwargs: Any) -> dict[str, Any]: ...


class _Body(Protocol):
    """botocore's StreamingBody."""

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]: ...
    def read(self) -> bytes: ...
    def close(self) -> None: ...


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _translate(exc: Any, what: str) -> PortalError | ObjectMissing:
    code = _code(exc)
    if code in _MISSING:
        return ObjectMissing(f"{what}: no such object")
    if code in _FULL or _status(exc) == 507:
        return InsufficientStorage("object storage is full")
    if code == "NoSuchBucket":
        return StorageUnavailable(f"{what}: the bucket does not exist")
    return StorageUnavailable(f"object storage refused {what}: {code or exc}")


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn botocore and connection errors into the storage error family."""
    try:
        yield
    except (PortalError, ObjectMissing):
        raise
    except ClientError as exc:
        raise _translate(exc, what) from exc
    except (BotoCoreError, OSError) as exc:  # refused connections, timeouts, cut-off bodies
        raise StorageUnavailable(f"object storage unavailable ({what}): {exc}") from exc


class _UploadGone(Exception):
    """The multipart upload was completed or aborted."""


# --- partial state ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mpu:
    name: str  # object name under the partial's folder
    id: str


@dataclass(frozen=True)
class _Part:
    number: int
    etag: str
    size: int


@dataclass(frozen=True)
class _Object:
    name: str
    size: int
    version: str | None


@dataclass(frozen=True)
class _State:
    mpu: _Mpu | None = None
    parts: tuple[_Part, ...] = ()
    pending: _Object | None = None
    # Pending objects this state replaced; deleted once it is the committed one.
    superseded: tuple[_Object, ...] = field(default=())

    @property
    def parts_size(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def size(self) -> int:
        return self.parts_size + (self.pending.size if self.pending else 0)

    def dumps(self) -> str:
        def obj(o: _Object) -> list[Any]:
            return [o.name, o.size, o.version]

        return json.dumps(
            {
                "v": 1,
                "mpu": [self.mpu.name, self.mpu.id] if self.mpu else None,
                "parts": [[p.number, p.etag, p.size] for p in self.parts],
                "pending": obj(self.pending) if self.pending else None,
                "superseded": [obj(o) for o in self.superseded],
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, raw: str | None) -> _State:
        if raw is None:
            return cls()
        try:
            d = json.loads(raw)
            if d.get("v") != 1:
                raise ValueError("unknown version")

            def obj(o: list[Any]) -> _Object:
                return _Object(str(o[0]), int(o[1]), None if o[2] is None else str(o[2]))

            state = cls(
                mpu=_Mpu(str(d["mpu"][0]), str(d["mpu"][1])) if d["mpu"] else None,
                parts=tuple(_Part(int(n), str(e), int(s)) for n, e, s in d["parts"]),
                pending=obj(d["pending"]) if d["pending"] else None,
                superseded=tuple(obj(o) for o in d["superseded"]),
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise StorageUnavailable(f"unreadable S3 partial state: {exc}") from exc
        if [p.number for p in state.parts] != list(range(1, len(state.parts) + 1)):
            raise StorageUnavailable("S3 partial state has gaps in its part numbers")
        if state.parts and state.mpu is None:
            raise StorageUnavailable("S3 partial state has parts but no multipart upload")
        return state


# --- the writer -------------------------------------------------------------------------------


class _S3Partial:
    """One PATCH's appends: full parts go up in the background, `PIPELINE` at a time.

    Memory is bounded by the part being filled plus the parts in flight. Part uploads run in
    the storage's thread pool so the next part fills while the last one travels (one at a
    time left the link idle for the length of every request); `commit` waits for all of them
    before it names any, so a committed state only ever refers to parts S3 acknowledged.
    """

    def __init__(
        self, storage: S3Storage, upload_id: str, committed: _State, raw: str | None, head: bytes
    ) -> None:
        self._storage = storage
        self._upload_id = upload_id
        self._committed = committed
        self._raw = raw
        self._mpu = committed.mpu
        self._parts = list(committed.parts)
        self._inflight: deque[tuple[int, bytes, Future[str]]] = deque()
        self._buf = bytearray(head)
        self._dirty = False
        self._open = True
        self._done = False
        self._rebased = False
        self._new_mpu: _Mpu | None = None

    def write(self, data: bytes) -> None:
        if not self._open:
            raise StorageUnavailable("partial writer is closed")
        if not data:
            return
        self._dirty = True
        size = self._storage.part_size
        view = memoryview(data)
        while view:
            room = max(size - len(self._buf), 0)
            self._buf += view[:room]
            view = view[room:]
            while len(self._buf) >= size:
                with memoryview(self._buf) as mv:
                    body = bytes(mv[:size])
                del self._buf[:size]
                self._send(body)
                while len(self._inflight) >= PIPELINE:
                    self._settle()

    def _send(self, body: bytes) -> None:
        number = len(self._parts) + len(self._inflight) + 1
        if number > MAX_PARTS:
            raise InsufficientStorage("upload is larger than an S3 multipart upload can hold")
        s = self._storage
        if self._mpu is None:
            self._mpu = self._new_mpu = s._create_mpu(self._upload_id, "data")
        # Every writer's parts in flight share one bound: memory stays capped however many
        # uploads run at once (a writer waits here, which slows its client: back-pressure).
        s._slots.acquire()
        try:
            future = s._pool.submit(s._upload_part, self._upload_id, self._mpu, number, body)
        except BaseException:
            s._slots.release()
            raise
        future.add_done_callback(lambda _: s._slots.release())
        self._inflight.append((number, body, future))

    def _settle(self) -> None:
        """Wait for the oldest part in flight and record it."""
        number, body, future = self._inflight.popleft()
        try:
            etag = future.result()
        except _UploadGone:
            # Completed by a read-back (materialise) of the committed state: carry on in a new
            # upload that starts with a server-side copy of the committed parts. Every part
            # still in flight went to the vanished upload too, so all are sent again.
            if self._rebased or self._parts != list(self._committed.parts):
                raise StorageUnavailable("the multipart upload vanished mid-request") from None
            bodies = [body, *self._drain_bodies()]
            s = self._storage
            self._mpu, parts = s._rebase(self._upload_id, self._committed)
            self._new_mpu = self._mpu
            self._parts = list(parts)
            self._rebased = True
            for again in bodies:
                self._send(again)
            return
        self._parts.append(_Part(number, etag, len(body)))

    def _drain_bodies(self) -> list[bytes]:
        """Wait for every part in flight, forget their outcome, return their bodies."""
        bodies = []
        while self._inflight:
            _, body, future = self._inflight.popleft()
            with contextlib.suppress(Exception):
                future.result()
            bodies.append(body)
        return bodies

    def commit(self) -> str | None:
        if not self._open:
            raise StorageUnavailable("partial writer is closed")
        try:
            if not self._dirty:
                self._done = True
                return self._raw
            s = self._storage
            pending = None
            if self._buf:
                # The leftover travels alongside the last parts, then everything is awaited.
                start = sum(p.size for p in self._parts) + sum(len(b) for _, b, _ in self._inflight)
                name = f"pending-{start}-{secrets.token_hex(4)}"
                tail = bytes(self._buf)
                put = s._pool.submit(s._put_temp, self._upload_id, name, tail)
                try:
                    while self._inflight:
                        self._settle()
                finally:
                    version = put.result()
                if sum(p.size for p in self._parts) != start:
                    raise StorageUnavailable("parts changed while the leftover was stored")
                pending = _Object(name, len(tail), version)
            else:
                while self._inflight:
                    self._settle()
            old = self._committed.pending
            state = _State(
                mpu=self._mpu,
                parts=tuple(self._parts),
                pending=pending,
                superseded=(old,) if old is not None else (),
            )
            self._done = True
            return state.dumps()
        finally:
            self._release()

    def abort(self) -> None:
        self._release()
        if not self._done and self._new_mpu is not None:
            # Only this writer knows of it; the committed state never referred to it.
            self._storage._abort_quietly(self._upload_id, self._new_mpu)
            self._new_mpu = None

    def close(self) -> None:
        self._release()

    def _release(self) -> None:
        """Stop: nothing more is sent, and no upload of ours is still running afterwards."""
        self._open = False
        self._buf = bytearray()
        for _, _, future in self._inflight:
            future.cancel()
        self._drain_bodies()


# --- the backend ------------------------------------------------------------------------------


class S3Storage:
    """Evidence bytes in one bucket under a prefix; credentials from the usual AWS sources."""

    inline_writes = False

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        checksum: Checksum = "when_required",
        lock_mode: LockMode = "GOVERNANCE",
        clock: Callable[[], datetime] | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        if lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ValueError(f"bad Object Lock mode {lock_mode!r}")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.lock_mode = lock_mode
        self.part_size = part_size
        # Retention is enforced by the bucket, not judged by our clock; kept for parity.
        self.clock = clock or (lambda: datetime.now(UTC))
        config = Config(
            region_name=region,
            request_checksum_calculation=checksum,
            response_checksum_validation="when_required",
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=60,
            tcp_keepalive=True,
            max_pool_connections=32,
            s3={"addressing_style": "path"} if endpoint_url else {},
        )
        # A session of our own: boto3's default one is not safe to share between threads.
        self._s3: _Client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, config=config
        )
        # Part uploads of every open writer; each keeps at most PIPELINE in flight.
        self._pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="s3-part")
        self._slots = threading.BoundedSemaphore(IN_FLIGHT)
        self._transfer = TransferConfig(
            multipart_threshold=256 * MiB, multipart_chunksize=128 * MiB, max_concurrency=4
        )
        self._locking: bool | None = None

    # --- names ----------------------------------------------------------------------------

    def _obj(self, key: str) -> str:
        parts = key.split("/")
        if (
            any(p in ("", ".", "..") for p in parts)
            or "\0" in key
            or parts[0] in ("partial", "locks")
        ):
            raise ValueError(f"bad storage key {key!r}")
        return self.prefix + key

    def _dir(self, upload_id: str) -> str:
        if not upload_id.isalnum() or not upload_id.isascii():
            raise ValueError(f"bad upload id {upload_id!r}")
        return f"{self.prefix}partial/{upload_id}/"

    # --- small requests -------------------------------------------------------------------

    def _head(self, full_key: str) -> tuple[int, str | None] | None:
        """(size, version) of the current version, or None when absent."""
        try:
            with _translated(f"HEAD {full_key}"):
                r = self._s3.head_object(Bucket=self.bucket, Key=full_key)
        except ObjectMissing:
            return None
        version = r.get("VersionId")
        return int(r["ContentLength"]), None if version in (None, "null") else str(version)

    def _versioned(self, full_key: str, version: str | None) -> dict[str, str]:
        args = {"Bucket": self.bucket, "Key": full_key}
        if version is not None:
            args["VersionId"] = version
        return args

    def _get_bytes(self, full_key: str, version: str | None, size: int) -> bytes:
        with _translated(f"GET {full_key}"):
            body: _Body = self._s3.get_object(**self._versioned(full_key, version))["Body"]
            try:
                data = body.read()
            finally:
                body.close()
        if len(data) != size:
            raise StorageUnavailable(f"{full_key} holds {len(data)} bytes, expected {size}")
        return data

    def _put_temp(self, upload_id: str, name: str, data: bytes) -> str | None:
        key = self._dir(upload_id) + name
        with _translated(f"PUT {key}"):
            r = self._s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        version = r.get("VersionId")
        return None if version in (None, "null") else str(version)

    def _delete_version(self, full_key: str, version: str | None) -> None:
        with _translated(f"DELETE {full_key}"):
            self._s3.delete_object(**self._versioned(full_key, version))

    # --- multipart uploads ----------------------------------------------------------------

    def _create_mpu(self, upload_id: str, name: str) -> _Mpu:
        key = self._dir(upload_id) + name
        with _translated(f"create multipart upload {key}"):
            r = self._s3.create_multipart_upload(Bucket=self.bucket, Key=key)
        return _Mpu(name, str(r["UploadId"]))

    def _upload_part(self, upload_id: str, mpu: _Mpu, number: int, body: bytes) -> str:
        key = self._dir(upload_id) + mpu.name
        try:
            with _translated(f"upload part {number} of {key}"):
                r = self._s3.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=mpu.id, PartNumber=number, Body=body
                )
        except StorageUnavailable as exc:
            if _gone(exc):
                raise _UploadGone from exc
            raise
        return str(r["ETag"])

    def _complete(self, upload_id: str, mpu: _Mpu, parts: list[_Part]) -> None:
        key = self._dir(upload_id) + mpu.name
        try:
            with _translated(f"complete {key}"):
                self._s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=mpu.id,
                    MultipartUpload={
                        "Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]
                    },
                )
        except StorageUnavailable as exc:
            if _gone(exc):
                raise _UploadGone from exc
            raise

    def _abort_quietly(self, upload_id: str, mpu: _Mpu) -> None:
        key = self._dir(upload_id) + mpu.name
        try:
            with _translated(f"abort {key}"):
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=mpu.id)
        except (StorageUnavailable, ObjectMissing) as exc:
            if not _gone(exc):
                log.warning("could not abort multipart upload %s: %s", key, exc)

    def _copy_parts(
        self, upload_id: str, mpu: _Mpu, source: tuple[str, str | None], length: int
    ) -> list[_Part]:
        """Server-side copy of source bytes [0, length) as the first parts of `mpu`."""
        if length == 0:
            return []
        count = math.ceil(length / MAX_COPY_PART)
        edges = [length * i // count for i in range(count + 1)]
        copy_source = {"Bucket": self.bucket, "Key": source[0]}
        if source[1] is not None:
            copy_source["VersionId"] = source[1]
        key = self._dir(upload_id) + mpu.name
        parts = []
        for number, (lo, hi) in enumerate(itertools.pairwise(edges), start=1):
            with _translated(f"copy into part {number} of {key}"):
                r = self._s3.upload_part_copy(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=mpu.id,
                    PartNumber=number,
                    CopySource=copy_source,
                    CopySourceRange=f"bytes={lo}-{hi - 1}",
                )
            parts.append(_Part(number, str(r["CopyPartResult"]["ETag"]), hi - lo))
        return parts

    def _rebase(self, upload_id: str, committed: _State) -> tuple[_Mpu, list[_Part]]:
        """A new multipart upload holding the committed parts, copied server-side."""
        source = self._materialize(upload_id, committed)
        # A new name: completing it must never overwrite the object it copies from.
        mpu = self._create_mpu(upload_id, f"data-{secrets.token_hex(4)}")
        if source is None:
            return mpu, []
        return mpu, self._copy_parts(upload_id, mpu, source, committed.parts_size)

    def _with_pending(
        self, upload_id: str, mpu: _Mpu, st: _State, parts: Iterable[_Part]
    ) -> list[_Part]:
        """`parts`, then the pending bytes uploaded as the last part (it may be small)."""
        parts = list(parts)
        if st.pending is not None and st.pending.size:
            d = self._dir(upload_id)
            tail = self._get_bytes(d + st.pending.name, st.pending.version, st.pending.size)
            number = len(parts) + 1
            parts.append(_Part(number, self._upload_part(upload_id, mpu, number, tail), len(tail)))
        return parts

    def _materialize(self, upload_id: str, st: _State) -> tuple[str, str | None] | None:
        """(key, version) of an object holding exactly the partial's committed bytes."""
        d = self._dir(upload_id)
        if not st.parts:
            return (d + st.pending.name, st.pending.version) if st.pending else None
        assert st.mpu is not None
        target = d + st.mpu.name
        found = self._head(target)
        if found is None or found[0] != st.size:
            with contextlib.suppress(_UploadGone):  # completed before; the size tells
                self._complete(
                    upload_id, st.mpu, self._with_pending(upload_id, st.mpu, st, st.parts)
                )
            # Some servers answer a repeated complete with success and change nothing.
            found = self._head(target)
        if found is not None and found[0] == st.size:
            return target, found[1]
        return self._rebuild(upload_id, st, found)

    def _rebuild(
        self, upload_id: str, st: _State, found: tuple[int, str | None] | None
    ) -> tuple[str, str | None]:
        """The upload was completed with fewer bytes than now committed: copy and append."""
        assert st.mpu is not None
        d = self._dir(upload_id)
        name = f"full-{st.size}"
        done = self._head(d + name)
        if done is not None and done[0] == st.size:
            return d + name, done[1]
        if found is None or found[0] < st.parts_size:
            raise ObjectMissing(f"partial {upload_id} is gone (its multipart upload ended)")
        mpu = self._create_mpu(upload_id, name)
        try:
            parts = self._copy_parts(upload_id, mpu, (d + st.mpu.name, found[1]), st.parts_size)
            self._complete(upload_id, mpu, self._with_pending(upload_id, mpu, st, parts))
        except BaseException:
            self._abort_quietly(upload_id, mpu)
            raise
        done = self._head(d + name)
        if done is None or done[0] != st.size:
            raise StorageUnavailable(f"rebuilding partial {upload_id} gave the wrong size")
        return d + name, done[1]

    # --- partials -------------------------------------------------------------------------

    def create_partial(self, upload_id: str) -> str | None:
        self._dir(upload_id)
        # Nothing to make or record yet: the multipart upload is created with the first full
        # part (small files never need one), and no state reads as the empty one.
        return None

    def open_partial(self, upload_id: str, offset: int, state: str | None) -> _S3Partial:
        st = _State.loads(state)
        if st.size != offset:
            raise StorageUnavailable(
                f"S3 partial state covers {st.size} bytes but the upload is at {offset}"
            )
        d = self._dir(upload_id)
        for old in st.superseded:
            try:
                self._delete_version(d + old.name, old.version)
            except (StorageUnavailable, ObjectMissing) as exc:
                log.warning("could not delete superseded %s%s: %s", d, old.name, exc)
        head = b""
        if st.pending is not None:
            head = self._get_bytes(d + st.pending.name, st.pending.version, st.pending.size)
        return _S3Partial(self, upload_id, st, state, head)

    def read_partial_head(self, upload_id: str, state: str | None, size: int) -> bytes:
        return b"".join(self.read_partial(upload_id, state, size))

    def read_partial(self, upload_id: str, state: str | None, length: int) -> Iterator[bytes]:
        st = _State.loads(state)
        length = min(length, st.size)
        if length <= 0:
            return iter(())
        source = self._materialize(upload_id, st)
        if source is None:
            return iter(())
        return self._stream(source[0], source[1], 0, length)

    def finish_partial(self, upload_id: str, state: str | None, key: str) -> None:
        final = self._obj(key)
        st = _State.loads(state)
        if self._head(final) is None:
            try:
                source = self._materialize(upload_id, st)
            except ObjectMissing:
                if self._head(final) is not None:  # finished meanwhile by another instance
                    self._cleanup(upload_id, st, strict=False)
                    return
                raise
            if source is None:
                with _translated(f"PUT {final}"):
                    self._s3.put_object(Bucket=self.bucket, Key=final, Body=b"")
            else:
                copy_source = {"Bucket": self.bucket, "Key": source[0]}
                if source[1] is not None:
                    copy_source["VersionId"] = source[1]
                with _translated(f"copy to {final}"):
                    self._s3.copy(
                        CopySource=copy_source, Bucket=self.bucket, Key=final, Config=self._transfer
                    )
            landed = self._head(final)
            if landed is None or landed[0] != st.size:
                raise StorageUnavailable(f"{final} did not land with {st.size} bytes")
        self._cleanup(upload_id, st, strict=False)

    def delete_partial(self, upload_id: str, state: str | None) -> None:
        self._cleanup(upload_id, _State.loads(state), strict=True)

    def _cleanup(self, upload_id: str, st: _State, *, strict: bool) -> None:
        """Abort every multipart upload and delete every object version of a partial."""
        d = self._dir(upload_id)
        try:
            with _translated(f"clean up {d}"):
                mpus = {st.mpu} if st.mpu else set()
                for page in self._s3.get_paginator("list_multipart_uploads").paginate(
                    Bucket=self.bucket, Prefix=d
                ):
                    for u in page.get("Uploads", []):
                        mpus.add(_Mpu(str(u["Key"]).removeprefix(d), str(u["UploadId"])))
                for mpu in mpus:
                    self._abort_quietly(upload_id, mpu)
                for full_key, version in self._versions(d, exact=False):
                    self._delete_version(full_key, version)
        except (StorageUnavailable, ObjectMissing) as exc:
            if strict:
                raise
            log.warning("partial %s left behind in object storage: %s", upload_id, exc)

    def _versions(self, prefix: str, *, exact: bool) -> list[tuple[str, str | None]]:
        """Every (key, version id) under a prefix, delete markers included."""
        found: list[tuple[str, str | None]] = []
        with _translated(f"list versions of {prefix}"):
            pages = self._s3.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    key = str(v["Key"])
                    if exact and key != prefix:
                        continue
                    version = v.get("VersionId")
                    found.append((key, None if version in (None, "null") else str(version)))
        return found

    # --- objects --------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        return self._head(self._obj(key)) is not None

    def size(self, key: str) -> int:
        found = self._head(self._obj(key))
        if found is None:
            raise ObjectMissing(f"no object {key}")
        return found[0]

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self._stream(self._obj(key), None, start, end)

    def _get(
        self, full_key: str, version: str | None, start: int, end: int | None, etag: str | None
    ) -> tuple[_Body, str] | None:
        """Ranged GET; None when the range starts at or past the end of the object."""
        args: dict[str, Any] = self._versioned(full_key, version)
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if etag is not None:
            args["IfMatch"] = etag
        try:
            with _translated(f"GET {full_key}"):
                r = self._s3.get_object(**args)
        except StorageUnavailable as exc:
            if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) == "InvalidRange":
                return None
            raise
        return r["Body"], str(r.get("ETag", ""))

    def _stream(
        self, full_key: str, version: str | None, start: int, end: int | None
    ) -> Iterator[bytes]:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad range [{start}, {end})")
        if end == start:
            if self._head(full_key) is None:
                raise ObjectMissing(f"no object {full_key}")
            return iter(())
        # The first request happens now, so a missing key fails here, not on first iteration.
        first = self._get(full_key, version, start, end, None)
        if first is None:
            return iter(())
        return self._blocks(full_key, version, start, end, first)

    def _blocks(
        self,
        full_key: str,
        version: str | None,
        start: int,
        end: int | None,
        first: tuple[_Body, str],
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
                    again = self._get(full_key, version, pos, end, etag or None)
                    if again is None:
                        return
                    body = again[0]
        finally:
            body.close()

    def put(self, key: str, data: bytes) -> None:
        full = self._obj(key)
        if self._head(full) is not None:
            return
        try:
            with _translated(f"PUT {full}"):
                self._s3.put_object(Bucket=self.bucket, Key=full, Body=data, IfNoneMatch="*")
        except StorageUnavailable as exc:
            # Written meanwhile by another instance: same key, same bytes.
            if not (isinstance(exc.__cause__, ClientError) and _status(exc.__cause__) == 412):
                raise

    # --- listing ------------------------------------------------------------------------

    def list_objects(self) -> Iterator[StoredObject]:
        """Current versions only: older versions of a key go with it (see `delete`)."""
        partials = f"{self.prefix}partial/"
        with _translated(f"list {self.prefix or '/'}"):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for o in page.get("Contents", []):
                    full = str(o["Key"])
                    if full.startswith(partials) or full.endswith("/"):
                        continue  # partials are listed by list_partials; folder markers
                    yield StoredObject(
                        full.removeprefix(self.prefix),
                        int(o["Size"]),
                        o["LastModified"].astimezone(UTC),
                    )

    def list_partials(self) -> Iterator[StoredPartial]:
        """Partials by upload id: their objects, and multipart uploads (with their parts)
        that no object shows yet."""
        base = f"{self.prefix}partial/"
        found: dict[str, tuple[int, datetime]] = {}

        def add(full_key: str, size: int, at: datetime) -> None:
            upload_id = full_key.removeprefix(base).split("/", 1)[0]
            had = found.get(upload_id)
            at = at.astimezone(UTC)
            found[upload_id] = (size, at) if had is None else (had[0] + size, max(had[1], at))

        with _translated(f"list {base}"):
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base
            ):
                for o in page.get("Contents", []):
                    add(str(o["Key"]), int(o["Size"]), o["LastModified"])
            for page in self._s3.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=base
            ):
                for u in page.get("Uploads", []):
                    key = str(u["Key"])
                    add(key, 0, u["Initiated"])
                    for part_page in self._s3.get_paginator("list_parts").paginate(
                        Bucket=self.bucket, Key=key, UploadId=str(u["UploadId"])
                    ):
                        for p in part_page.get("Parts", []):
                            add(key, int(p["Size"]), p["LastModified"])
        for upload_id, (size, at) in sorted(found.items()):
            yield StoredPartial(upload_id, size, at)

    # --- deletion and Object Lock ---------------------------------------------------------

    def object_lock_enabled(self) -> bool:
        """Whether the bucket has Object Lock (asked once)."""
        if self._locking is None:
            try:
                r = self._s3.get_object_lock_configuration(Bucket=self.bucket)
            except ClientError as exc:
                if _code(exc) not in _NO_LOCK_CONFIG:
                    raise _translate(exc, "get Object Lock configuration") from exc
                self._locking = False
            except (BotoCoreError, OSError) as exc:
                raise StorageUnavailable(f"object storage unavailable: {exc}") from exc
            else:
                config = r.get("ObjectLockConfiguration", {})
                self._locking = config.get("ObjectLockEnabled") == "Enabled"
        return self._locking

    def _current_version(self, key: str) -> tuple[str, str | None]:
        full = self._obj(key)
        found = self._head(full)
        if found is None:
            raise ObjectMissing(f"no object {key}")
        return full, found[1]

    def delete(self, key: str, *, bypass_governance: bool = False) -> None:
        """Delete every version of `key`: in a versioned bucket a plain DELETE only hides it."""
        full = self._obj(key)
        locking = self.object_lock_enabled()
        refused: list[str] = []
        for _, version in self._versions(full, exact=True):
            args: dict[str, Any] = self._versioned(full, version)
            if bypass_governance and locking:
                args["BypassGovernanceRetention"] = True
            try:
                self._s3.delete_object(**args)
            except ClientError as exc:
                if locking and _code(exc) in _LOCK_REFUSALS:
                    refused.append(version or "null")
                    continue
                raise _translate(exc, f"DELETE {full}") from exc
            except (BotoCoreError, OSError) as exc:
                raise StorageUnavailable(f"object storage unavailable: {exc}") from exc
        if refused:
            raise ObjectLocked(f"{key} is under a legal hold or retention in object storage")

    def set_retention(self, key: str, until: datetime | None) -> None:
        """Lock the current version until `until`; never shortens, None changes nothing."""
        if until is None or not self.object_lock_enabled():
            return
        until = until.astimezone(UTC)
        if until <= datetime.now(UTC):
            # The store judges dates by its own clock: a date already past locks nothing
            # (and S3 refuses it), so there is nothing to mirror.
            return
        full, version = self._current_version(key)
        args = self._versioned(full, version)
        try:
            self._s3.put_object_retention(
                **args, Retention={"Mode": self.lock_mode, "RetainUntilDate": until}
            )
        except ClientError as exc:
            if _code(exc) not in _LOCK_REFUSALS:
                raise _translate(exc, f"set retention on {full}") from exc
            # Refused: fine if an equal or later date is already in force (shortening is
            # refused by design), otherwise a real failure.
            with _translated(f"get retention of {full}"):
                current = self._s3.get_object_retention(**args).get("Retention", {})
            held = current.get("RetainUntilDate")
            if not isinstance(held, datetime) or held < until:
                raise StorageUnavailable(f"object storage refused retention on {key}") from exc
        except (BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"object storage unavailable: {exc}") from exc

    def set_legal_hold(self, key: str, on: bool) -> None:
        if not self.object_lock_enabled():
            return
        full, version = self._current_version(key)
        with _translated(f"set legal hold on {full}"):
            self._s3.put_object_legal_hold(
                **self._versioned(full, version), LegalHold={"Status": "ON" if on else "OFF"}
            )


def _gone(exc: BaseException) -> bool:
    cause = exc.__cause__
    return isinstance(cause, ClientError) and _code(cause) == "NoSuchUpload"
