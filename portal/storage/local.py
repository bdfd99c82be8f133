"""Filesystem backend: the embedded default, one machine only.

Originals are made read-only after they land; a write-once key that already exists is not
rewritten (same key means same SHA-256, so same bytes).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from portal.storage import InsufficientStorage, ObjectMissing, StorageUnavailable

CHUNK = 1024 * 1024
T = TypeVar("T")


def _guard(fn: Callable[[], T]) -> T:
    """Translate OS errors into the storage error family."""
    try:
        return fn()
    except FileNotFoundError as exc:
        raise ObjectMissing(str(exc)) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("storage is full") from exc
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
        self._fd: int | None = _guard(lambda: os.open(path, os.O_WRONLY))
        try:
            # Bytes past the durable offset are from a write whose commit never happened.
            _guard(lambda: os.ftruncate(self._fd or 0, offset))
            _guard(lambda: os.lseek(self._fd or 0, offset, os.SEEK_SET))
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
        while view:
            n = _guard(lambda: os.write(fd, view))
            view = view[n:]

    def commit(self) -> str | None:
        fd = self._open_fd()
        try:
            _guard(lambda: os.fsync(fd))
        finally:
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
            os.close(fd)


class LocalStorage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.partials = self.root / "partial"
        for d in (self.root, self.partials):
            d.mkdir(parents=True, exist_ok=True)

    def _partial(self, upload_id: str) -> Path:
        return self.partials / upload_id

    def _key(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts) or "\0" in key:
            raise ValueError(f"bad storage key {key!r}")
        return self.root.joinpath(*parts)

    def create_partial(self, upload_id: str) -> str | None:
        def create() -> None:
            fd = os.open(self._partial(upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            _fsync_dir(self.partials)

        _guard(create)
        return None

    def open_partial(self, upload_id: str, offset: int, state: str | None) -> _LocalPartial:
        return _LocalPartial(self._partial(upload_id), offset)

    def read_partial_head(self, upload_id: str, state: str | None, size: int) -> bytes:
        def head() -> bytes:
            with open(self._partial(upload_id), "rb") as f:
                return f.read(size)

        return _guard(head)

    def read_partial(self, upload_id: str, state: str | None, length: int) -> Iterator[bytes]:
        return self._stream(self._partial(upload_id), 0, length)

    def finish_partial(self, upload_id: str, state: str | None, key: str) -> None:
        src, dst = self._partial(upload_id), self._key(key)

        def finish() -> None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():
                # Same key, same hash: a retried finalise or the same file sent twice.
                src.unlink(missing_ok=True)
                return
            os.chmod(src, 0o444)
            os.replace(src, dst)
            _fsync_dir(dst.parent)
            _fsync_dir(self.partials)

        _guard(finish)

    def delete_partial(self, upload_id: str, state: str | None) -> None:
        _guard(lambda: self._partial(upload_id).unlink(missing_ok=True))

    def exists(self, key: str) -> bool:
        return self._key(key).exists()

    def size(self, key: str) -> int:
        return _guard(lambda: self._key(key).stat().st_size)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._key(key)
        if end is None:
            end = self.size(key)
        return self._stream(path, start, end)

    def _stream(self, path: Path, start: int, end: int) -> Iterator[bytes]:
        f = _guard(lambda: open(path, "rb"))  # noqa: SIM115 - closed by the generator
        def gen() -> Iterator[bytes]:
            with f:
                f.seek(start)
                left = end - start
                while left > 0:
                    block = _guard(lambda: f.read(min(CHUNK, left)))
                    if not block:
                        break
                    left -= len(block)
                    yield block

        return gen()

    def put(self, key: str, data: bytes) -> None:
        path = self._key(key)

        def put() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                return
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, path)
            _fsync_dir(path.parent)

        _guard(put)

    def delete(self, key: str) -> None:
        _guard(lambda: self._key(key).unlink(missing_ok=True))
