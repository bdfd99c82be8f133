"""Where evidence bytes live, behind one small protocol.

Two kinds of object: *partials* (an unfinished tus upload, appended to chunk by chunk) and
*objects* under a key (`sha256/<hex>` originals, write-once; derivatives later). Backends turn
their own failures into the errors below, so callers never see OSError or botocore types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol

from portal.errors import InsufficientStorage, PortalError, StorageUnavailable

if TYPE_CHECKING:
    from portal.config import Settings

__all__ = [
    "InsufficientStorage",
    "ObjectLocked",
    "ObjectMissing",
    "PartialWriter",
    "Storage",
    "StorageUnavailable",
    "StoredObject",
    "StoredPartial",
    "open_storage",
]


class ObjectMissing(FileNotFoundError):
    """The key or partial does not exist in the backend."""


class ObjectLocked(PortalError):
    """The object is under a legal hold or its retention date has not passed."""

    status, code = 409, "object_locked"


class StoredObject(NamedTuple):
    key: str
    size: int
    last_modified: datetime  # UTC


class StoredPartial(NamedTuple):
    upload_id: str
    size: int  # bytes stored for it so far
    last_modified: datetime  # UTC, the latest write to any of its pieces


class PartialWriter(Protocol):
    def write(self, data: bytes) -> None:
        """Append bytes after everything written so far."""

    def commit(self) -> str | None:
        """Make every byte written durable; return backend state to persist with the offset."""

    def abort(self) -> None:
        """Forget every byte written since open; the partial is as it was at `offset`."""

    def close(self) -> None:
        """Let go without changing anything (another writer owns the upload now)."""


class Storage(Protocol):
    # True when PartialWriter.write only touches local files: cheap enough to call on the
    # event loop (measured faster than a thread hop). A network backend blocks for a whole
    # part upload, so its writes go to a worker thread.
    inline_writes: bool

    def create_partial(self, upload_id: str) -> None:
        """Prepare an empty partial; its state is None until the first commit."""

    def open_partial(self, upload_id: str, offset: int, state: str | None) -> PartialWriter:
        """Open for appending at `offset`, the last durable offset; bytes past it are dropped."""

    def read_partial_head(self, upload_id: str, state: str | None, size: int) -> bytes:
        """The first `size` bytes of a partial (media type sniffing)."""

    def read_partial(self, upload_id: str, state: str | None, length: int) -> Iterator[bytes]:
        """Stream the first `length` bytes of a partial (re-hash when hash state is lost)."""

    def finish_partial(self, upload_id: str, state: str | None, key: str) -> None:
        """Turn a complete partial into the write-once object `key` (idempotent)."""

    def delete_partial(self, upload_id: str, state: str | None) -> None:
        """Remove a partial; missing is fine."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes [start, end) of an object; ObjectMissing if absent."""

    def put(self, key: str, data: bytes) -> None:
        """Store a small write-once object (derivatives)."""

    def put_locked(self, key: str, data: bytes, until: datetime) -> None:
        """Store a write-once object retained until `until` (the custody log's tiles and
        checkpoints). An existing `key` is left as it is; compare it to know it agrees."""

    def list_keys(self, prefix: str, *, start_after: str = "") -> Iterator[str]:
        """Keys of the objects under `prefix` (ending in `/`) sorting after `start_after`,
        in ascending order."""

    def delete(self, key: str, *, bypass_governance: bool = False) -> None:
        """Remove an object; ObjectLocked while it is held or retained (see below)."""

    # Retention mirror: the retention engine decides, storage enforces it too, so that
    # someone holding the database but not the application still cannot destroy evidence.

    def set_retention(self, key: str, until: datetime | None) -> None:
        """Refuse deletion of `key` before `until` (never shortened on locking backends)."""

    def set_legal_hold(self, key: str, on: bool) -> None:
        """While on, `key` cannot be deleted whatever its retention date."""

    # Listing, for reconciling storage with the database (portal.flows.reconcile).

    def list_objects(self) -> Iterator[StoredObject]:
        """Every object under a key (current versions only), partials excluded; any order."""

    def list_partials(self) -> Iterator[StoredPartial]:
        """Every partial with something stored. One with no bytes committed yet may have
        nothing stored (S3 creates nothing before the first commit), so it may be absent."""


def open_storage(
    url: str,
    *,
    clock: Callable[[], datetime] | None = None,
    settings: Settings | None = None,
) -> Storage:
    """`file:///path` or `s3://bucket/prefix` (S3 options from `settings`, else defaults).

    `clock` is the local backend's, which judges retention dates itself; S3 judges them by
    the store's own clock."""
    if url.startswith("file://"):
        from portal.storage.local import LocalStorage

        return LocalStorage(url.removeprefix("file://"), clock=clock)
    if url.startswith("s3://"):
        from portal.config import Settings
        from portal.storage.s3 import S3Storage

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"no bucket in storage URL: {url!r}")
        s = settings or Settings()
        return S3Storage(
            bucket,
            prefix,
            endpoint_url=s.s3_endpoint_url or None,
            region=s.s3_region,
            checksum=s.s3_checksum,
            lock_mode=s.s3_lock_mode,
        )
    raise ValueError(f"unsupported storage URL: {url!r}")
