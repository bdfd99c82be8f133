"""Filesystem backend: the embedded default, for one machine.

Originals are made read-only once they land; a write-once key that already exists is never
rewritten (same key means same SHA-256, so the same bytes).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portal.storage import (
    InsufficientStorage,
    ObjectLocked,
    ObjectMissing,
    StorageUnavailable,
    StoredObject,
    StoredPartial,
)
from portal.storage.layout import key_parts

CHUNK = 1024 * 1024
# Start writeback every this many bytes, so the fsync that acknowledges a PATCH finds little
# left to flush instead of the whole body (Linux only; elsewhere fsync does it all).
WRITEBACK_EVERY = 16 * 1024 * 1024


def _load_sync_file_range() -> Callable[[int, int, int], None] | None:
    # The os module does not wrap sync_file_range(2); libc has it on Linux.
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    fn.restype = ctypes.c_int
    write_only = 2  # SYNC_FILE_RANGE_WRITE: start writeback, do not wait

    def start_writeback(fd: int, offset: int, length: int) -> None:
        fn(fd, offset, length, write_only)  # advisory: a failure only costs speed

    return start_writeback


_start_writeback = _load_sync_file_range()


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Turn OS errors into the storage error family."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ObjectMissing(str(exc)) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("storage is full") from exc
        if exc.errno == errno.EFBIG:
            # A file-size limit (RLIMIT_FSIZE, or the filesystem's own maximum): waiting will
            # not lift it, so this is "cannot hold it" (507) rather than "try again" (503).
            raise InsufficientStorage("storage refuses to grow a file this large") from exc
        raise StorageUnavailable(f"storage error: {exc.strerror or exc}") from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _LocalPartial:
    def __init__(self, path: Path, offset: int) -> None:
        self._offset = offset
        self._position = offset
        self._synced = offset
        with _translated():
            fd = os.open(path, os.O_WRONLY)
        self._fd: int | None = fd
        try:
            with _translated():
                if os.fstat(fd).st_size < offset:
                    # Truncating up would fill the gap with zeros under a hash state that
                    # covers the real bytes: refuse rather than corrupt the evidence.
                    raise StorageUnavailable(
                        f"partial {path.name} holds fewer bytes than its durable offset {offset}"
                    )
                # Bytes past the durable offset come from a write that never committed.
                os.ftruncate(fd, offset)
                os.lseek(fd, offset, os.SEEK_SET)
        except BaseException:
            self.close()
            raise

    def _open_fd(self) -> int:
        if self._fd is None:
            raise StorageUnavailable("partial writer is closed")
        return self._fd

    def write(self, data: bytes) -> None:
        fd = self._open_fd()
        view = memoryview(data)
        with _translated():
            while view:
                view = view[os.write(fd, view) :]
            self._position += len(data)
            if _start_writeback and self._position - self._synced >= WRITEBACK_EVERY:
                _start_writeback(fd, self._synced, self._position - self._synced)
                self._synced = self._position

    def commit(self) -> str | None:
        fd = self._open_fd()
        try:
            with _translated():
                os.fsync(fd)
        except BaseException:
            # After a failed fsync the page cache may hold pages the disk never got, marked
            # clean, so a second fsync would report success: everything since the last good
            # commit is lost. Drop it (the next open_partial truncates again if this fails).
            self.abort()
            raise
        self.close()
        return None

    def abort(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._offset)
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            # Nothing to report: durable bytes were fsynced, the others are dropped anyway.
            with contextlib.suppress(OSError):
                os.close(fd)


def private_dir(path: Path) -> None:
    """Create `path` and any missing parents as 0700: the bytes are witnesses' videos, which
    no other local user may list or read (`mkdir(parents=True)` would give parents 0755)."""
    for level in [*reversed(path.parents), path]:
        if not level.exists():
            level.mkdir(mode=0o700, exist_ok=True)


class LocalStorage:
    """Also enforces retention and legal holds itself, from a lock record per object."""

    inline_writes = True

    def __init__(self, root: str | Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.root = Path(root)
        self.partials = self.root / "partial"
        self.locks = self.root / "locks"
        private_dir(self.partials)
        self.clock = clock or (lambda: datetime.now(UTC))

    def _lock_path(self, key: str) -> Path:
        return self.locks / (self._key(key).relative_to(self.root).as_posix() + ".json")

    def _lock(self, key: str) -> dict[str, Any]:
        path = self._lock_path(key)
        with _translated():
            return json.loads(path.read_text()) if path.exists() else {}

    def _save_lock(self, key: str, lock: dict[str, Any]) -> None:
        path = self._lock_path(key)
        with _translated():
            private_dir(path.parent)
            tmp = path.with_name(path.name + ".tmp")
            try:
                with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                    f.write(json.dumps(lock))
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)

    def set_retention(self, key: str, until: datetime | None) -> None:
        """Like Object Lock: a date only ever moves later; None changes nothing."""
        if until is None:
            return
        lock = self._lock(key)
        held = lock.get("retain_until")
        if held is None or datetime.fromisoformat(held) < until:
            lock["retain_until"] = until.astimezone(UTC).isoformat()
            self._save_lock(key, lock)

    def set_legal_hold(self, key: str, on: bool) -> None:
        lock = self._lock(key)
        lock["legal_hold"] = on
        self._save_lock(key, lock)

    def _partial(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise ValueError(f"bad upload id {upload_id!r}")
        return self.partials / upload_id

    def _key(self, key: str) -> Path:
        return self.root.joinpath(*key_parts(key))

    def path(self, key: str) -> Path:
        """Where an object lives on disk: the media parser reads it there instead of a copy."""
        return self._key(key)

    def create_partial(self, upload_id: str) -> None:
        with _translated():
            fd = os.open(self._partial(upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            _fsync_dir(self.partials)

    def open_partial(self, upload_id: str, offset: int, state: str | None) -> _LocalPartial:
        return _LocalPartial(self._partial(upload_id), offset)

    def read_partial_head(self, upload_id: str, state: str | None, size: int) -> bytes:
        with _translated(), open(self._partial(upload_id), "rb") as f:
            return f.read(size)

    def read_partial(self, upload_id: str, state: str | None, length: int) -> Iterator[bytes]:
        return self._stream(self._partial(upload_id), 0, length)

    def finish_partial(self, upload_id: str, state: str | None, key: str) -> None:
        src, dst = self._partial(upload_id), self._key(key)
        with _translated():
            private_dir(dst.parent)
            if dst.exists():
                # Same key, same hash: a retried finalise, or the same file sent twice. The
                # earlier attempt may have failed in the fsyncs below: make the rename durable.
                src.unlink(missing_ok=True)
                _fsync_dir(dst.parent)
                _fsync_dir(self.partials)
                return
            try:
                os.chmod(src, 0o400)  # write-once, and the owner's alone
                os.replace(src, dst)
            except FileNotFoundError:
                # Another finaliser of this upload (a HEAD and a retried PATCH) moved it
                # between the check above and here: the bytes are home all the same.
                if not dst.exists():
                    raise
            _fsync_dir(dst.parent)
            _fsync_dir(self.partials)

    def delete_partial(self, upload_id: str, state: str | None) -> None:
        with _translated():
            self._partial(upload_id).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._key(key).exists()

    def size(self, key: str) -> int:
        with _translated():
            return self._key(key).stat().st_size

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self._stream(self._key(key), start, self.size(key) if end is None else end)

    def _stream(self, path: Path, start: int, end: int) -> Iterator[bytes]:
        if not path.exists():
            raise ObjectMissing(str(path))

        def blocks() -> Iterator[bytes]:
            # Opened on the first read, so a request dropped before reading leaks nothing.
            with _translated(), open(path, "rb") as f:
                f.seek(start)
                left = end - start
                while left > 0:
                    block = f.read(min(CHUNK, left))
                    if not block:
                        return
                    left -= len(block)
                    yield block

        return blocks()

    def put(self, key: str, data: bytes) -> None:
        path = self._key(key)
        with _translated():
            private_dir(path.parent)
            if path.exists():
                return
            tmp = path.with_name(path.name + ".tmp")
            try:
                with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o400)
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)  # a full disk keeps no half-written leftovers
                raise
            _fsync_dir(path.parent)

    def put_locked(self, key: str, data: bytes, until: datetime) -> None:
        self.put(key, data)
        self.set_retention(key, until)

    def list_keys(self, prefix: str, *, start_after: str = "") -> Iterator[str]:
        folder = self.root.joinpath(*key_parts(prefix.rstrip("/")))
        with _translated():
            if not folder.is_dir():
                return
            keys = [
                p.relative_to(self.root).as_posix()
                for p in folder.rglob("*")
                if p.is_file() and not p.name.endswith(".tmp")
            ]
        yield from sorted(k for k in keys if k > start_after)

    def delete(self, key: str, *, bypass_governance: bool = False) -> None:
        lock = self._lock(key)
        if lock.get("legal_hold"):
            raise ObjectLocked(f"{key} is under a legal hold")
        until = lock.get("retain_until")
        if until and datetime.fromisoformat(until) > self.clock() and not bypass_governance:
            raise ObjectLocked(f"{key} is retained until {until}")
        with _translated():
            self._key(key).unlink(missing_ok=True)
            self._lock_path(key).unlink(missing_ok=True)

    # --- listing ------------------------------------------------------------------------------

    def list_objects(self) -> Iterator[StoredObject]:
        # os.scandir with string keys: pathlib costs more than the stat calls at this scale.
        def walk(folder: str, prefix: str) -> Iterator[StoredObject]:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
            for entry in entries:
                key = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if key not in ("partial", "locks"):
                        yield from walk(entry.path, key + "/")
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # deleted while we walked
                    continue
                yield StoredObject(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

        with _translated():
            yield from walk(str(self.root), "")

    def list_partials(self) -> Iterator[StoredPartial]:
        with _translated():
            for entry in sorted(os.scandir(self.partials), key=lambda e: e.name):
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # finished or deleted while we listed
                    continue
                yield StoredPartial(
                    entry.name, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC)
                )
