"""The S3 backend itself: partials, objects, listing, and Object Lock.

Object Lock is applied per object version with `set_retention` / `set_legal_hold`, never
through bucket defaults. On a bucket without Object Lock both are no-ops and the retention
engine's own check is the only guard: use an Object Lock bucket in production.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from portal.storage import (
    ObjectLocked,
    ObjectMissing,
    StorageUnavailable,
    StoredObject,
    StoredPartial,
)
from portal.storage.s3 import multipart
from portal.storage.s3.bucket import Bucket
from portal.storage.s3.client import Checksum, Client, make_client
from portal.storage.s3.errors import (
    LOCK_REFUSALS,
    NO_LOCK_CONFIG,
    error_code,
    http_status,
    translate,
    translated,
)
from portal.storage.s3.limits import MIN_PART_SIZE, PART_SIZE, MiB
from portal.storage.s3.materialize import materialize
from portal.storage.s3.reading import stream
from portal.storage.s3.state import Mpu, PartialState
from portal.storage.s3.writer import PartUploads, S3Partial

log = logging.getLogger("portal.storage.s3")

LockMode = Literal["GOVERNANCE", "COMPLIANCE"]


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
        part_size: int = PART_SIZE,
    ) -> None:
        if lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ValueError(f"bad Object Lock mode {lock_mode!r}")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.lock_mode = lock_mode
        self.part_size = part_size
        client = make_client(endpoint_url=endpoint_url, region=region, checksum=checksum)
        self._bucket = Bucket(client, bucket, prefix)
        # Handed to every writer, which needs nothing else of this storage.
        self._uploads = PartUploads(self._bucket, part_size)
        self._transfer = TransferConfig(
            multipart_threshold=256 * MiB, multipart_chunksize=128 * MiB, max_concurrency=4
        )
        self._locking: bool | None = None

    @property
    def bucket(self) -> str:
        return self._bucket.name

    @property
    def prefix(self) -> str:
        return self._bucket.prefix

    @property
    def _s3(self) -> Client:
        """The one client every request goes through, the writers' part uploads included."""
        return self._bucket.client

    @_s3.setter
    def _s3(self, client: Client) -> None:
        self._bucket.client = client

    # --- partials -------------------------------------------------------------------------

    def create_partial(self, upload_id: str) -> None:
        self._bucket.partial_dir(upload_id)
        # Nothing to make or record yet: the multipart upload is created with the first full
        # part (small files never need one), and no state reads as the empty one.

    def open_partial(self, upload_id: str, offset: int, state: str | None) -> S3Partial:
        st = PartialState.loads(state)
        if st.size != offset:
            raise StorageUnavailable(
                f"S3 partial state covers {st.size} bytes but the upload is at {offset}"
            )
        d = self._bucket.partial_dir(upload_id)
        for old in st.superseded:
            try:
                self._bucket.delete_version(d + old.name, old.version)
            except (StorageUnavailable, ObjectMissing) as exc:
                log.warning("could not delete superseded %s%s: %s", d, old.name, exc)
        head = b""
        if st.pending is not None:
            head = self._bucket.get_bytes(d + st.pending.name, st.pending.version, st.pending.size)
        return S3Partial(self._uploads, upload_id, st, state, head)

    def read_partial_head(self, upload_id: str, state: str | None, size: int) -> bytes:
        return b"".join(self.read_partial(upload_id, state, size))

    def read_partial(self, upload_id: str, state: str | None, length: int) -> Iterator[bytes]:
        st = PartialState.loads(state)
        length = min(length, st.size)
        if length <= 0:
            return iter(())
        source = materialize(self._bucket, upload_id, st)
        if source is None:
            return iter(())
        return stream(self._bucket, source[0], source[1], 0, length)

    def finish_partial(self, upload_id: str, state: str | None, key: str) -> None:
        final = self._bucket.object_key(key)
        st = PartialState.loads(state)
        if self._bucket.head(final) is None:
            try:
                source = materialize(self._bucket, upload_id, st)
            except ObjectMissing:
                if self._bucket.head(final) is not None:  # finished meanwhile by another instance
                    self._cleanup(upload_id, st, strict=False)
                    return
                raise
            if source is None:
                with translated(f"PUT {final}"):
                    self._s3.put_object(Bucket=self.bucket, Key=final, Body=b"")
            else:
                copy_source = {"Bucket": self.bucket, "Key": source[0]}
                if source[1] is not None:
                    copy_source["VersionId"] = source[1]
                with translated(f"copy to {final}"):
                    self._s3.copy(
                        CopySource=copy_source, Bucket=self.bucket, Key=final, Config=self._transfer
                    )
            landed = self._bucket.head(final)
            if landed is None or landed[0] != st.size:
                raise StorageUnavailable(f"{final} did not land with {st.size} bytes")
        self._cleanup(upload_id, st, strict=False)

    def delete_partial(self, upload_id: str, state: str | None) -> None:
        self._cleanup(upload_id, PartialState.loads(state), strict=True)

    def _cleanup(self, upload_id: str, st: PartialState, *, strict: bool) -> None:
        """Abort every multipart upload and delete every object version of a partial."""
        d = self._bucket.partial_dir(upload_id)
        try:
            with translated(f"clean up {d}"):
                mpus = {st.mpu} if st.mpu else set()
                for page in self._s3.get_paginator("list_multipart_uploads").paginate(
                    Bucket=self.bucket, Prefix=d
                ):
                    for u in page.get("Uploads", []):
                        mpus.add(Mpu(str(u["Key"]).removeprefix(d), str(u["UploadId"])))
                for mpu in mpus:
                    multipart.abort_quietly(self._bucket, upload_id, mpu)
                for full_key, version in self._bucket.versions(d, exact=False):
                    self._bucket.delete_version(full_key, version)
        except (StorageUnavailable, ObjectMissing) as exc:
            if strict:
                raise
            log.warning("partial %s left behind in object storage: %s", upload_id, exc)

    # --- objects --------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        return self._bucket.head(self._bucket.object_key(key)) is not None

    def size(self, key: str) -> int:
        found = self._bucket.head(self._bucket.object_key(key))
        if found is None:
            raise ObjectMissing(f"no object {key}")
        return found[0]

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return stream(self._bucket, self._bucket.object_key(key), None, start, end)

    def put(self, key: str, data: bytes) -> None:
        full = self._bucket.object_key(key)
        if self._bucket.head(full) is not None:
            return
        try:
            with translated(f"PUT {full}"):
                self._s3.put_object(Bucket=self.bucket, Key=full, Body=data, IfNoneMatch="*")
        except StorageUnavailable as exc:
            # Written meanwhile by another instance: same key, same bytes.
            if not (isinstance(exc.__cause__, ClientError) and http_status(exc.__cause__) == 412):
                raise

    def put_locked(self, key: str, data: bytes, until: datetime) -> None:
        full = self._bucket.object_key(key)
        if self._bucket.head(full) is not None:
            return
        lock: dict[str, Any] = {}
        if self.object_lock_enabled():
            # Locked in the same PUT: there is no moment when the object exists unlocked.
            lock = {"ObjectLockMode": self.lock_mode, "ObjectLockRetainUntilDate": until}
        try:
            with translated(f"PUT {full}"):
                self._s3.put_object(
                    Bucket=self.bucket, Key=full, Body=data, IfNoneMatch="*", **lock
                )
        except StorageUnavailable as exc:
            if not (isinstance(exc.__cause__, ClientError) and http_status(exc.__cause__) == 412):
                raise

    # --- listing ------------------------------------------------------------------------

    def list_keys(self, prefix: str, *, start_after: str = "") -> Iterator[str]:
        after = {"StartAfter": self.prefix + start_after} if start_after else {}
        with translated(f"list {self.prefix}{prefix}"):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix, **after
            )
            for page in pages:
                for o in page.get("Contents", []):
                    yield str(o["Key"]).removeprefix(self.prefix)

    def list_objects(self) -> Iterator[StoredObject]:
        """Current versions only: older versions of a key go with it (see `delete`)."""
        partials = f"{self.prefix}partial/"
        with translated(f"list {self.prefix or '/'}"):
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

        with translated(f"list {base}"):
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
                if error_code(exc) not in NO_LOCK_CONFIG:
                    raise translate(exc, "get Object Lock configuration") from exc
                self._locking = False
            except (BotoCoreError, OSError) as exc:
                raise StorageUnavailable(f"object storage unavailable: {exc}") from exc
            else:
                config = r.get("ObjectLockConfiguration", {})
                self._locking = config.get("ObjectLockEnabled") == "Enabled"
        return self._locking

    def _current_version(self, key: str) -> tuple[str, str | None]:
        full = self._bucket.object_key(key)
        found = self._bucket.head(full)
        if found is None:
            raise ObjectMissing(f"no object {key}")
        return full, found[1]

    def delete(self, key: str, *, bypass_governance: bool = False) -> None:
        """Delete every version of `key`: in a versioned bucket a plain DELETE only hides it."""
        full = self._bucket.object_key(key)
        locking = self.object_lock_enabled()
        refused: list[str] = []
        for _, version in self._bucket.versions(full, exact=True):
            args: dict[str, Any] = self._bucket.versioned(full, version)
            if bypass_governance and locking:
                args["BypassGovernanceRetention"] = True
            try:
                self._s3.delete_object(**args)
            except ClientError as exc:
                if locking and error_code(exc) in LOCK_REFUSALS:
                    refused.append(version or "null")
                    continue
                raise translate(exc, f"DELETE {full}") from exc
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
        args = self._bucket.versioned(full, version)
        try:
            self._s3.put_object_retention(
                **args, Retention={"Mode": self.lock_mode, "RetainUntilDate": until}
            )
        except ClientError as exc:
            if error_code(exc) not in LOCK_REFUSALS:
                raise translate(exc, f"set retention on {full}") from exc
            # Refused: fine if an equal or later date is already in force (shortening is
            # refused by design), otherwise a real failure.
            with translated(f"get retention of {full}"):
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
        with translated(f"set legal hold on {full}"):
            self._s3.put_object_legal_hold(
                **self._bucket.versioned(full, version), LegalHold={"Status": "ON" if on else "OFF"}
            )
