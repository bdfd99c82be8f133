"""The partial writer: one PATCH's appends, its full parts sent in the background."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from portal.storage import InsufficientStorage, StorageUnavailable
from portal.storage.s3 import materialize, multipart
from portal.storage.s3.bucket import Bucket
from portal.storage.s3.errors import UploadGone
from portal.storage.s3.limits import IN_FLIGHT, MAX_PARTS, PIPELINE
from portal.storage.s3.state import Mpu, Part, PartialState, PendingObject


class PartUploads:
    """What a storage shares with its writers: the bucket, the part size, and one thread pool
    for the part uploads of every open writer (each keeps at most PIPELINE in flight)."""

    def __init__(self, bucket: Bucket, part_size: int) -> None:
        self.bucket = bucket
        self.part_size = part_size
        self._pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="s3-part")
        self._slots = threading.BoundedSemaphore(IN_FLIGHT)

    def send_part(self, upload_id: str, mpu: Mpu, number: int, body: bytes) -> Future[str]:
        # Every writer's parts in flight share one bound: memory stays capped however many
        # uploads run at once (a writer waits here, which slows its client: back-pressure).
        self._slots.acquire()
        try:
            future = self._pool.submit(
                multipart.upload_part, self.bucket, upload_id, mpu, number, body
            )
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def put_pending(self, upload_id: str, name: str, data: bytes) -> Future[str | None]:
        """Store the bytes after the last full part, alongside the parts (outside their bound)."""
        return self._pool.submit(self.bucket.put_temp, upload_id, name, data)


class S3Partial:
    """One PATCH's appends: full parts go up in the background, `PIPELINE` at a time.

    Memory is bounded by the part being filled plus the parts in flight. Part uploads run in
    the storage's thread pool so the next part fills while the last one travels (one at a
    time left the link idle for the length of every request); `commit` waits for all of them
    before it names any, so a committed state only ever refers to parts S3 acknowledged.
    """

    def __init__(
        self,
        uploads: PartUploads,
        upload_id: str,
        committed: PartialState,
        raw: str | None,
        head: bytes,
    ) -> None:
        self._uploads = uploads
        self._bucket = uploads.bucket
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
        self._new_mpu: Mpu | None = None

    def write(self, data: bytes) -> None:
        if not self._open:
            raise StorageUnavailable("partial writer is closed")
        if not data:
            return
        self._dirty = True
        size = self._uploads.part_size
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
        if self._mpu is None:
            self._mpu = self._new_mpu = multipart.create(self._bucket, self._upload_id, "data")
        future = self._uploads.send_part(self._upload_id, self._mpu, number, body)
        self._inflight.append((number, body, future))

    def _settle(self) -> None:
        """Wait for the oldest part in flight and record it."""
        number, body, future = self._inflight.popleft()
        try:
            etag = future.result()
        except UploadGone:
            # Completed by a read-back (materialise) of the committed state: carry on in a new
            # upload that starts with a server-side copy of the committed parts. Every part
            # still in flight went to the vanished upload too, so all are sent again.
            if self._rebased or self._parts != list(self._committed.parts):
                raise StorageUnavailable("the multipart upload vanished mid-request") from None
            bodies = [body, *self._drain_bodies()]
            self._mpu, parts = materialize.rebase(self._bucket, self._upload_id, self._committed)
            self._new_mpu = self._mpu
            self._parts = list(parts)
            self._rebased = True
            for again in bodies:
                self._send(again)
            return
        self._parts.append(Part(number, etag, len(body)))

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
            pending = None
            if self._buf:
                # The leftover travels alongside the last parts, then everything is awaited.
                start = sum(p.size for p in self._parts) + sum(len(b) for _, b, _ in self._inflight)
                name = f"pending-{start}-{secrets.token_hex(4)}"
                tail = bytes(self._buf)
                put = self._uploads.put_pending(self._upload_id, name, tail)
                try:
                    while self._inflight:
                        self._settle()
                finally:
                    version = put.result()
                if sum(p.size for p in self._parts) != start:
                    raise StorageUnavailable("parts changed while the leftover was stored")
                pending = PendingObject(name, len(tail), version)
            else:
                while self._inflight:
                    self._settle()
            old = self._committed.pending
            state = PartialState(
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
            multipart.abort_quietly(self._bucket, self._upload_id, self._new_mpu)
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
