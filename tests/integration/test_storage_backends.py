"""One interface suite for every storage backend: the local folder and S3 (SeaweedFS).

Each test gets a factory that opens a *new* backend object on the same place, as another
app instance would, so nothing may survive in one object's memory between steps.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ResponseStreamingError  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from sqlalchemy import select

from portal.app import create_app
from portal.clock import as_utc
from portal.config import Settings
from portal.evidence.models import Evidence
from portal.storage import ObjectMissing, Storage, StorageUnavailable, open_storage
from portal.storage.local import LocalStorage
from portal.storage.s3 import MIN_PART_SIZE, S3Storage
from tests.support.api import new_submission
from tests.support.servers import Seaweed, free_port, fresh_database
from tests.support.uploads import upload

PART = MIN_PART_SIZE  # the S3 backend under test uses the smallest part S3 allows
MiB = 1024 * 1024


@dataclass
class Backend:
    kind: str
    open: Callable[[], Storage]
    seaweed: Seaweed | None = None
    bucket: str = ""
    prefix: str = ""
    root: Path | None = None


@pytest.fixture(params=["local", "s3", "s3-object-lock"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    """A folder; a plain bucket; a bucket with Object Lock, hence versioning (a plain DELETE
    only hides an object there, so temp objects must go version by version)."""
    if request.param == "local":
        root = tmp_path / "store"
        return Backend("local", lambda: LocalStorage(root), root=root)
    server: Seaweed = request.getfixturevalue("seaweed")
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    bucket = server.new_bucket(object_lock=request.param == "s3-object-lock")

    def make() -> Storage:
        return S3Storage(bucket, "p", endpoint_url=server.endpoint_url, part_size=PART)

    return Backend("s3", make, server, bucket, "p/")


def blob(n: int, seed: int = 0) -> bytes:
    """Deterministic bytes that differ at every offset (catches misplaced parts)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(struct.pack(">QQ", seed, counter)).digest() * 64
        counter += 1
    return bytes(out[:n])


def read_all(s: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(s.read(key, start, end))


class Upload:
    """What the database keeps for an upload: the offset and the backend state, together."""

    def __init__(self, backend: Backend, upload_id: str = "up1") -> None:
        self.backend = backend
        self.id = upload_id
        backend.open().create_partial(upload_id)
        self.state: str | None = None  # a new partial has no state yet
        self.offset = 0
        self.expected = b""

    def patch(self, data: bytes, *, chunk: int = 256 * 1024, commit: bool = True) -> str | None:
        """One PATCH in a fresh backend object; returns the state it committed (or None)."""
        w = self.backend.open().open_partial(self.id, self.offset, self.state)
        for i in range(0, len(data), chunk):
            w.write(data[i : i + chunk])
        if not commit:
            w.abort()
            return None
        state = w.commit()
        self.state, self.offset = state, self.offset + len(data)
        self.expected += data
        return state

    def finish(self, key: str) -> None:
        self.backend.open().finish_partial(self.id, self.state, key)


def s3_keys(b: Backend, under: str) -> list[str]:
    assert b.seaweed is not None
    r = b.seaweed.client().list_object_versions(Bucket=b.bucket, Prefix=b.prefix + under)
    return sorted(v["Key"] for v in [*r.get("Versions", []), *r.get("DeleteMarkers", [])])


def s3_uploads(b: Backend, under: str) -> list[str]:
    assert b.seaweed is not None
    r = b.seaweed.client().list_multipart_uploads(Bucket=b.bucket, Prefix=b.prefix + under)
    return [u["Key"] for u in r.get("Uploads", [])]


# --- partials ---------------------------------------------------------------------------------


def test_write_commit_read_back(backend: Backend) -> None:
    up = Upload(backend)
    data = blob(2 * PART + 12345)
    up.patch(data)
    s = backend.open()
    assert b"".join(s.read_partial(up.id, up.state, len(data))) == data
    assert b"".join(s.read_partial(up.id, up.state, 1000)) == data[:1000]
    assert s.read_partial_head(up.id, up.state, 8192) == data[:8192]
    assert s.read_partial_head(up.id, up.state, len(data) + 10) == data
    up.finish("sha256/one")
    assert read_all(backend.open(), "sha256/one") == data


def test_resume_at_offset_in_another_instance(backend: Backend) -> None:
    up = Upload(backend)
    up.patch(blob(PART + 7, seed=1))
    up.patch(blob(PART + PART // 2, seed=2))
    up.patch(blob(3, seed=3))
    up.finish("sha256/resumed")
    assert backend.open().size("sha256/resumed") == len(up.expected)
    assert read_all(backend.open(), "sha256/resumed") == up.expected


def test_abort_keeps_the_committed_state(backend: Backend) -> None:
    up = Upload(backend)
    up.patch(blob(PART + 100, seed=1))
    # A PATCH that uploaded two whole parts and a remainder, then was refused.
    up.patch(blob(2 * PART + 55, seed=9), commit=False)
    up.patch(blob(PART // 3, seed=2))
    up.patch(blob(PART, seed=10), commit=False)
    up.patch(blob(PART + 1, seed=3))
    up.finish("sha256/aborted")
    assert read_all(backend.open(), "sha256/aborted") == up.expected


def test_a_state_that_never_reached_the_database_breaks_nothing(backend: Backend) -> None:
    up = Upload(backend)
    up.patch(blob(PART + 10, seed=1))
    committed, offset = up.state, up.offset
    # The process crashed after commit() but before the offset and state were saved.
    w = backend.open().open_partial(up.id, offset, committed)
    w.write(blob(2 * PART + 3, seed=7))
    unsaved = w.commit()
    assert backend.kind == "local" or unsaved != committed
    # The retry resumes from what the database still says, with different bytes.
    up.patch(blob(PART // 2, seed=2))
    up.patch(blob(PART, seed=3))
    up.finish("sha256/crash")
    assert read_all(backend.open(), "sha256/crash") == up.expected


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1, 2 * PART + 7, 3 * PART])
def test_sizes_that_are_not_a_multiple_of_the_part(backend: Backend, size: int) -> None:
    up = Upload(backend)
    up.patch(blob(size))
    up.finish("sha256/sized")
    assert read_all(backend.open(), "sha256/sized") == up.expected


def test_a_remainder_stays_pending_across_commits(backend: Backend) -> None:
    up = Upload(backend)
    for i in range(7):  # 7 x 0.7 parts: whole parts appear from carried-over remainders
        up.patch(blob(PART * 7 // 10, seed=i))
    if backend.kind == "s3":
        # Superseded pending objects go as soon as their replacement is the committed state.
        assert len([k for k in s3_keys(backend, "partial/") if "/pending-" in k]) <= 2
    assert b"".join(backend.open().read_partial(up.id, up.state, up.offset)) == up.expected
    up.finish("sha256/pending")
    assert read_all(backend.open(), "sha256/pending") == up.expected


def test_many_tiny_writes(backend: Backend) -> None:
    up = Upload(backend)
    data = blob(PART + 4321)
    w = backend.open().open_partial(up.id, 0, up.state)
    for i in range(0, len(data), 1000):
        w.write(data[i : i + 1000])
    w.write(b"")
    up.state, up.offset, up.expected = w.commit(), len(data), data
    w2 = backend.open().open_partial(up.id, up.offset, up.state)
    for b in blob(3000, seed=5):
        w2.write(bytes([b]))
    up.state, up.offset, up.expected = w2.commit(), up.offset + 3000, data + blob(3000, seed=5)
    up.finish("sha256/tiny")
    assert read_all(backend.open(), "sha256/tiny") == up.expected


def test_the_patch_writer_sequence(backend: Backend) -> None:
    """What uploads.service.PatchWriter does: commit, abort on a bad checksum, close on a
    lost lease, empty PATCHes; each step in a new instance with the state from the DB."""
    up = Upload(backend)
    up.patch(b"")  # an empty PATCH commits nothing and keeps the state usable
    up.patch(blob(PART // 2, seed=1))
    up.patch(blob(PART, seed=2), commit=False)  # checksum mismatch
    # Lost lease: close() lets go without touching anything.
    w = backend.open().open_partial(up.id, up.offset, up.state)
    w.write(blob(PART + 5, seed=3))
    w.close()
    up.patch(blob(PART + PART // 2, seed=4))
    state = up.state
    up.patch(b"")
    if backend.kind == "s3":
        assert up.state == state
    up.patch(blob(17, seed=5))
    assert backend.open().read_partial_head(up.id, up.state, 8192) == up.expected[:8192]
    up.finish("sha256/sequence")
    assert read_all(backend.open(), "sha256/sequence") == up.expected


def test_read_back_then_keep_writing(backend: Backend) -> None:
    """Re-reading a partial (lost hash state) must not stop it from growing."""
    up = Upload(backend)
    up.patch(blob(2 * PART + 99, seed=1))
    assert b"".join(backend.open().read_partial(up.id, up.state, up.offset)) == up.expected
    up.patch(blob(PART + 1, seed=2))  # whole parts after the read-back
    assert b"".join(backend.open().read_partial(up.id, up.state, up.offset)) == up.expected
    # Several parts in flight at once, all sent to the upload the read-back completed.
    up.patch(blob(3 * PART + 7, seed=6), chunk=PART)
    assert b"".join(backend.open().read_partial(up.id, up.state, up.offset)) == up.expected
    up.patch(blob(10, seed=3))  # only a remainder after the read-back
    assert backend.open().read_partial_head(up.id, up.state, 100) == up.expected[:100]
    up.patch(blob(PART, seed=4), commit=False)
    up.patch(blob(20, seed=5))
    up.finish("sha256/reread")
    assert read_all(backend.open(), "sha256/reread") == up.expected


def test_finish_is_idempotent(backend: Backend) -> None:
    up = Upload(backend)
    up.patch(blob(PART + 3))
    s = backend.open()
    # finalise() sniffs the head before finishing.
    assert s.read_partial_head(up.id, up.state, 8192) == up.expected[:8192]
    up.finish("sha256/twice")
    up.finish("sha256/twice")  # a retry after a crash
    backend.open().delete_partial(up.id, up.state)
    up.finish("sha256/twice")  # the partial is gone and the key is there
    assert read_all(backend.open(), "sha256/twice") == up.expected
    if backend.kind == "s3":
        assert s3_keys(backend, "partial/") == []
        assert s3_uploads(backend, "partial/") == []
        assert s3_keys(backend, "sha256/") == [backend.prefix + "sha256/twice"]


def test_finish_a_small_file_and_the_same_file_twice(backend: Backend) -> None:
    first, second = Upload(backend, "a1"), Upload(backend, "a2")
    first.patch(b"same bytes")
    second.patch(b"same bytes")
    first.finish("sha256/dup")
    second.finish("sha256/dup")
    assert read_all(backend.open(), "sha256/dup") == b"same bytes"
    if backend.kind == "s3":
        assert s3_keys(backend, "partial/") == []


def test_finish_without_the_partial_or_the_key(backend: Backend) -> None:
    up = Upload(backend)
    up.patch(blob(PART + 1))
    backend.open().delete_partial(up.id, up.state)
    backend.open().delete_partial(up.id, up.state)  # missing is fine
    with pytest.raises(ObjectMissing):
        up.finish("sha256/lost")


def test_an_abort_with_parts_in_flight_leaves_no_upload(backend: Backend) -> None:
    up = Upload(backend)
    up.patch(blob(4 * PART + 3, seed=1), chunk=4 * PART + 3, commit=False)  # one write, 4 parts
    if backend.kind == "s3":
        assert s3_uploads(backend, "partial/") == []
    up.patch(blob(10, seed=2))
    up.finish("sha256/inflight")
    assert read_all(backend.open(), "sha256/inflight") == up.expected


def test_delete_partial_leaves_nothing(backend: Backend) -> None:
    up = Upload(backend)
    up.patch(blob(2 * PART + 1))
    up.patch(blob(PART, seed=1), commit=False)
    backend.open().delete_partial(up.id, up.state)
    if backend.kind == "s3":
        assert s3_keys(backend, "partial/") == []
        assert s3_uploads(backend, "partial/") == []
    else:
        assert backend.root is not None
        assert not (backend.root / "partial" / up.id).exists()


# --- objects ----------------------------------------------------------------------------------


def test_read_ranges(backend: Backend) -> None:
    data = blob(3 * MiB + 5)
    s = backend.open()
    s.put("sha256/ranges", data)
    n = len(data)
    assert s.exists("sha256/ranges")
    assert s.size("sha256/ranges") == n
    assert read_all(s, "sha256/ranges") == data
    assert read_all(s, "sha256/ranges", 0, 0) == b""
    assert read_all(s, "sha256/ranges", 10, 10) == b""
    assert read_all(s, "sha256/ranges", 0, 1) == data[:1]
    assert read_all(s, "sha256/ranges", 10, 20) == data[10:20]
    assert read_all(s, "sha256/ranges", n - 1) == data[-1:]
    assert read_all(s, "sha256/ranges", n - 1, n) == data[-1:]
    assert read_all(s, "sha256/ranges", MiB - 1, 2 * MiB + 1) == data[MiB - 1 : 2 * MiB + 1]
    assert read_all(s, "sha256/ranges", 5, n + 100) == data[5:]
    assert read_all(s, "sha256/ranges", n) == b""
    assert read_all(s, "sha256/ranges", n + 10) == b""
    # Streamed in blocks, never the whole object at once.
    assert max(len(b) for b in s.read("sha256/ranges")) <= MiB


def test_empty_object(backend: Backend) -> None:
    s = backend.open()
    s.put("derived/empty", b"")
    assert s.exists("derived/empty")
    assert s.size("derived/empty") == 0
    assert read_all(s, "derived/empty") == b""


def test_missing_objects(backend: Backend) -> None:
    s = backend.open()
    assert not s.exists("sha256/nope")
    with pytest.raises(ObjectMissing):
        s.size("sha256/nope")
    with pytest.raises(ObjectMissing):
        s.read("sha256/nope")  # at the call, not at the first block
    with pytest.raises(ObjectMissing):
        s.read("sha256/nope", 5, 10)
    with pytest.raises(FileNotFoundError):  # what callers that know no better catch
        s.read("sha256/nope", 0, 0)
    s.delete("sha256/nope")  # missing is fine


def test_put_is_write_once(backend: Backend) -> None:
    s = backend.open()
    s.put("derived/poster.jpg", b"first")
    backend.open().put("derived/poster.jpg", b"second")
    assert read_all(backend.open(), "derived/poster.jpg") == b"first"


def test_delete(backend: Backend) -> None:
    s = backend.open()
    s.put("derived/gone", b"x" * 100)
    s.delete("derived/gone")
    assert not backend.open().exists("derived/gone")
    with pytest.raises(ObjectMissing):
        backend.open().read("derived/gone")
    if backend.kind == "s3":
        assert s3_keys(backend, "derived/") == []


@pytest.mark.parametrize("key", ["", "/x", "a//b", "../x", "a/../b", "partial/x", "locks/x"])
def test_bad_keys(backend: Backend, key: str) -> None:
    with pytest.raises(ValueError):
        backend.open().put(key, b"x")


# --- the whole portal on PostgreSQL and S3 ----------------------------------------------------


def test_portal_on_postgres_and_s3(
    tmp_path: Path,
    video: Path,
    postgres_url: str,
    seaweed: Seaweed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    bucket = seaweed.new_bucket(object_lock=True)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=fresh_database(postgres_url),
        storage_url=f"s3://{bucket}/p",
        s3_endpoint_url=seaweed.endpoint_url,
    )
    small = video.read_bytes()
    # Bigger than two 8 MiB parts: the same video with an MP4 `free` box of padding after it.
    padding = os.urandom(20 * MiB)
    large = small + struct.pack(">I", 8 + len(padding)) + b"free" + padding
    with TestClient(create_app(settings)) as client:
        _, token = new_submission(client)
        auth = {"Authorization": f"Bearer {token}"}
        for data, chunk in ((small, 300 * 1024), (large, 5 * MiB + 123)):
            url = upload(client, auth, data, chunk=chunk)
            r = client.head(url, headers={"Tus-Resumable": "1.0.0", **auth})
            assert r.headers["Upload-Offset"] == str(len(data))
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        with rt.sessions() as db:
            items = list(db.scalars(select(Evidence)))
    assert sorted(i.sha256 for i in items) == sorted(
        hashlib.sha256(d).hexdigest() for d in (small, large)
    )
    s3 = seaweed.client()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="p/")
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    originals = [k for k in keys if k.startswith("p/sha256/")]
    assert originals == sorted(
        f"p/sha256/{hashlib.sha256(d).hexdigest()}" for d in (small, large)
    ), keys
    for key in originals:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert f"p/sha256/{hashlib.sha256(body).hexdigest()}" == key
    assert not [k for k in keys if k.startswith("p/partial/")]
    # The retention engine's date is mirrored onto the stored version as an Object Lock.
    for item in items:
        if item.locked_until is None:
            continue
        r = s3.get_object_retention(Bucket=bucket, Key=f"p/{item.storage_key}")
        assert r["Retention"]["Mode"] == "GOVERNANCE"
        held = r["Retention"]["RetainUntilDate"]
        assert abs((held - as_utc(item.locked_until)).total_seconds()) < 2


# --- S3 only: reads survive a dropped connection -------------------------------------------------


class _DroppingBody:
    """A GetObject body whose connection drops after the first block."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        yield next(iter(self.body.iter_chunks(size)))
        raise ResponseStreamingError(error="connection reset by peer")

    def close(self) -> None:
        self.body.close()


class _FlakyClient:
    def __init__(self, real: Any, drops: int) -> None:
        self.real, self.drops = real, drops

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def get_object(self, **kwargs: Any) -> Any:
        r = self.real.get_object(**kwargs)
        if self.drops:
            self.drops -= 1
            r["Body"] = _DroppingBody(r["Body"])
        return r


def test_s3_read_resumes_after_a_dropped_connection(
    seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    s = S3Storage(seaweed.new_bucket(), "p", endpoint_url=seaweed.endpoint_url)
    data = blob(4 * MiB + 3)
    s.put("sha256/flaky", data)
    real = s._s3
    monkeypatch.setattr(s, "_s3", _FlakyClient(real, drops=2))
    assert read_all(s, "sha256/flaky") == data
    monkeypatch.setattr(s, "_s3", _FlakyClient(real, drops=2))
    assert read_all(s, "sha256/flaky", 100, 3 * MiB) == data[100 : 3 * MiB]
    monkeypatch.setattr(s, "_s3", _FlakyClient(real, drops=3))
    with pytest.raises(StorageUnavailable):
        read_all(s, "sha256/flaky")


def test_s3_unreachable_is_storage_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    s = S3Storage("b", "p", endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageUnavailable):
        s.exists("sha256/x")
    with pytest.raises(StorageUnavailable):
        s.read("sha256/x")


def test_open_storage_s3_url(seaweed: Seaweed) -> None:
    settings = Settings(s3_endpoint_url=seaweed.endpoint_url, s3_lock_mode="COMPLIANCE")
    s = open_storage("s3://bucket/some/prefix", settings=settings)
    assert isinstance(s, S3Storage)
    assert (s.bucket, s.prefix, s.lock_mode) == ("bucket", "some/prefix/", "COMPLIANCE")
    bare = open_storage("s3://bucket", settings=settings)
    assert isinstance(bare, S3Storage) and bare.prefix == ""
    with pytest.raises(ValueError):
        open_storage("s3:///prefix", settings=settings)
