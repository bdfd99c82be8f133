"""A read-only, seekable file object over one stored object, for libraries that want a file.

PyAV (and anything else that takes a binary file) can read an original straight from any
backend: every read goes through `Storage.read(key, start, end)` in ranges, never through a
local path. A read-ahead buffer turns a demuxer's many small reads (PyAV asks for 32 KiB at a
time) into few storage requests, and keeping the last two blocks serves the usual jump from
the index at the end of an MP4 back to its first frames without fetching them twice.
`bytes_fetched` and `fetches` say what it cost, for the log.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from portal.storage import Storage

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["READ_AHEAD", "StorageReader"]

READ_AHEAD = 1024 * 1024


class StorageReader(io.RawIOBase):
    """Bytes of `key` in `storage`, as a read-only seekable raw binary file.

    Reads may return fewer bytes than asked (at most one buffer's worth), as raw files do;
    wrap in `io.BufferedReader` if a caller needs full reads. Seeking past the end is allowed
    and reads there return nothing.
    """

    def __init__(
        self,
        storage: Storage,
        key: str,
        *,
        read_ahead: int = READ_AHEAD,
        cache_blocks: int = 2,
        size: int | None = None,
    ) -> None:
        super().__init__()
        self._pos = 0
        self._blocks: list[tuple[int, bytes]] = []  # (start, bytes), least recently used first
        if read_ahead < 1 or cache_blocks < 1:
            raise ValueError("read_ahead and cache_blocks must be positive")
        self.storage = storage
        self.key = key
        self.read_ahead = read_ahead
        self.cache_blocks = cache_blocks
        self.size = storage.size(key) if size is None else size
        self.bytes_fetched = 0
        """Bytes actually transferred from storage so far."""
        self.fetches = 0
        """Storage range requests made so far."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        self._checkClosed()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence!r}, should be 0, 1 or 2)")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._checkClosed()
        with memoryview(buffer) as raw, raw.cast("B") as view:
            want = len(view)
            if want == 0 or self._pos >= self.size:
                return 0
            block_start, block = self._block_at(self._pos) or self._fill(self._pos, want)
            offset = self._pos - block_start
            n = min(want, len(block) - offset)
            if n <= 0:
                return 0  # the object is shorter than `size` said
            with memoryview(block) as src:
                view[:n] = src[offset : offset + n]
        self._pos += n
        return n

    def readall(self) -> bytes:
        """The rest of the object: what is cached at the position plus one request."""
        self._checkClosed()
        if self._pos >= self.size:
            return b""
        start, head = self._pos, b""
        if hit := self._block_at(self._pos):
            block_start, block = hit
            head = block[self._pos - block_start :]
            start = block_start + len(block)
        data = head + (self._fetch(start, self.size) if start < self.size else b"")
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._blocks.clear()
        super().close()

    def _block_at(self, pos: int) -> tuple[int, bytes] | None:
        for i, (start, block) in enumerate(self._blocks):
            if start <= pos < start + len(block):
                self._blocks.append(self._blocks.pop(i))  # most recently used last
                return start, block
        return None

    def _fill(self, start: int, want: int) -> tuple[int, bytes]:
        end = min(start + max(want, self.read_ahead), self.size)
        # Stop where a cached block begins rather than fetch its bytes again.
        end = min([end, *(s for s, _ in self._blocks if start < s < end)])
        if len(self._blocks) >= self.cache_blocks:
            self._blocks.pop(0)  # let go before fetching the next
        entry = (start, self._fetch(start, end))
        if entry[1]:
            self._blocks.append(entry)
        return entry

    def _fetch(self, start: int, end: int) -> bytes:
        self.fetches += 1
        data = b"".join(self.storage.read(self.key, start, end))
        self.bytes_fetched += len(data)
        return data
