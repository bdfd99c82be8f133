"""Storage that fails in the middle of a PATCH, with real faults rather than stand-ins.

- Full disk: the storage folder is a small tmpfs that fills up (write fails with ENOSPC).
- File-size limit: RLIMIT_FSIZE on the running `portal serve` (write fails with EFBIG).
- Thin pool exhausted: ext4 on a loop device whose image lives on a small tmpfs. ext4 has
  room, so every write() succeeds into the page cache; writeback then fails, and only fsync
  says so (ENOSPC). A second fsync would report success: the fsync-gate lesson.
- I/O error: the ext4 is shut down (EXT4_IOC_SHUTDOWN, what xfstests use to fake a dying
  disk) while the body is arriving; every call on it fails with EIO from then on.
- Database failure after the bytes were made durable: PostgreSQL stops taking connections.
- Full at the very end: the last PATCH's bytes fit, the folder for the original does not.

In each case the client gets 507 or 503 (JSON body, Tus-Resumable; Retry-After on 503), HEAD
afterwards reports exactly the bytes that were durable, the stored partial holds those bytes
and the recorded hash state is theirs; once the fault is gone, the client resumes from HEAD and
the upload completes with the source's SHA-256 and a custody log that verifies. An S3 outage
mid-PATCH is in test_scale_out.py.

Why these faults: the test machines run as root on Debian with loop devices, where tmpfs and
loop mounts work and are the real thing (a full filesystem, a failing block device). Mounting
is probed once; without it the full-disk case falls back to RLIMIT_FSIZE, the next faithful
fault that needs no privileges (the kernel itself refuses the write). The thin pool, the I/O
error and the missing inodes have no unprivileged equivalent and fail with an explanation.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import io
import json
import os
import resource
import sqlite3
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import rehashes
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from tusclient import client as tus
from tusclient.exceptions import TusUploadFailed
from tusclient.uploader.uploader import Uploader

from portal.app import build_runtime, create_app
from portal.clock import utcnow
from portal.config import Settings
from portal.errors import StorageUnavailable
from portal.flows.content_audit import audit_log_and_content
from portal.submissions.models import Submission
from portal.uploads import patch as upload_patch
from portal.uploads.models import Upload
from tests.support.api import new_submission
from tests.support.servers import Server, fresh_database
from tests.support.uploads import OCTET, TUS, create_upload, padded, patch, url_of

MiB = 1024 * 1024
SIZE = 12 * MiB  # the file
DURABLE = 6 * MiB  # acknowledged before the fault
ROOM = 2 * MiB  # what still fits once the fault is armed: the fault lands mid-PATCH
CHUNK = 3 * MiB  # tus client chunk: the PATCH after DURABLE runs past ROOM

EXT4_IOC_SHUTDOWN = 0x8004587D  # _IOR('X', 125, __u32)
EXT4_GOING_FLAGS_NOLOGFLUSH = 2  # drop what is not yet journalled, like a pulled cable


# --- real faults ----------------------------------------------------------------------------


def sh(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")


@functools.cache
def mount_permitted() -> bool:
    probe = Path(tempfile.mkdtemp(prefix="portal-mount-probe-"))
    try:
        sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe))
    except (RuntimeError, FileNotFoundError):
        return False
    else:
        sh("umount", str(probe))
        return True
    finally:
        probe.rmdir()


def require_mounting() -> None:
    if not mount_permitted():
        raise RuntimeError(
            "this fault needs root with mount and loop devices (CAP_SYS_ADMIN), as on the test "
            "machines; there is no unprivileged way to make a filesystem fail like this"
        )


def unmount(where: Path) -> None:
    if not where.is_mount():
        return  # a remount that failed half-way
    try:
        sh("umount", str(where))
    except RuntimeError:
        sh("umount", "-l", str(where))  # still busy after a failed test: detach anyway


@contextlib.contextmanager
def tmpfs(where: Path, size: int) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where))
    try:
        yield where
    finally:
        unmount(where)


@dataclass
class Ext4:
    device: str
    where: Path

    def shut_down(self) -> None:
        """Every later call on this filesystem fails with EIO, until it is mounted again."""
        fd = os.open(self.where, os.O_RDONLY)
        try:
            fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
        finally:
            os.close(fd)

    def remount(self) -> None:
        """Unmount and mount again: the journal is replayed and reads come from the disk."""
        sh("umount", str(self.where))
        sh("mount", self.device, str(self.where))


@contextlib.contextmanager
def loop_ext4(image: Path, size: int, where: Path, *, thin: bool = False) -> Iterator[Ext4]:
    """ext4 on a loop device backed by `image`.

    `thin`: every block ext4 has in use is allocated in the image and every free one is a
    hole (fstrim punches them), so only new file data needs room where the image lives.
    """
    with open(image, "wb") as f:
        f.truncate(size)
    sh("mkfs.ext4", "-q", "-F", "-b", "4096", "-m", "0", str(image))
    if thin:
        fd = os.open(image, os.O_WRONLY)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
    device = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        where.mkdir(parents=True, exist_ok=True)
        sh("mount", device, str(where))
        try:
            if thin:
                sh("fstrim", str(where))
            yield Ext4(device, where)
        finally:
            unmount(where)
    finally:
        sh("losetup", "-d", device)


def ballast(folder: Path, leave: int) -> Path:
    """Fill the filesystem of `folder` until only `leave` bytes are free."""
    st = os.statvfs(folder)
    path = folder / "ballast"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, st.f_bavail * st.f_frsize - leave)
    finally:
        os.close(fd)
    return path


# --- the portal and its client ----------------------------------------------------------------


@contextlib.contextmanager
def running(tmp_path: Path, storage: Path) -> Iterator[Server]:
    """`portal serve` with its storage folder at `storage` (database on the ordinary disk)."""
    server = Server(
        tmp_path / "data",
        env={
            "PORTAL_STORAGE_URL": f"file://{storage}",
            # These disks are small on purpose: what happens when they really fill is the test,
            # not the floor that refuses uploads before they do (tests/integration/test_hardening).
            "PORTAL_MIN_FREE_SPACE": "0",
        },
    ).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Witness:
    submission: str
    auth: dict[str, str]


def open_submission(server: Server) -> Witness:
    with httpx.Client(base_url=server.url) as http:
        sub_id, token = new_submission(http)
    return Witness(sub_id, {"Authorization": f"Bearer {token}"})


def uploader(server: Server, auth: dict[str, str], data: bytes, **kw: Any) -> Uploader:
    client = tus.TusClient(f"{server.url}/api/v1/uploads", headers=auth)
    return Uploader(
        file_stream=io.BytesIO(data),
        client=client,
        chunk_size=CHUNK,
        metadata={"filename": "clip.mp4"},
        upload_checksum=True,
        **kw,
    )


def upload_id(url: str) -> str:
    return url.rsplit("/", 1)[1]


def row(server: Server, url: str) -> tuple[int, bytes | None, str | None]:
    """offset, hash_state, lock_owner, read from the server's SQLite database."""
    with contextlib.closing(sqlite3.connect(server.data_dir / "portal.db")) as db:
        found = db.execute(
            "SELECT offset, hash_state, lock_owner FROM uploads WHERE id = ?", (upload_id(url),)
        ).fetchone()
    assert found is not None
    return int(found[0]), found[1], found[2]


def hash_state_of(state: bytes | None) -> str:
    assert state is not None
    return str(rehashes.PySha256.deserialize(state).finalize())


def assert_refused(failed: TusUploadFailed, client: Uploader, status: int, code: str) -> None:
    """The PATCH the tus client sent was refused with `status`, as JSON, as tus."""
    assert failed.status_code == status
    assert json.loads(failed.response_content)["error"] == code
    assert client.request is not None
    headers = client.request.response_headers
    assert headers["tus-resumable"] == "1.0.0"
    if status == 503:
        assert int(headers["retry-after"]) > 0


def assert_only_durable_bytes(
    server: Server, url: str, witness: Witness, partial: Path, data: bytes
) -> None:
    """HEAD, the stored partial and the recorded hash state all say: DURABLE bytes, no more."""
    head = httpx.head(url, headers={**TUS, **witness.auth})
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(DURABLE)
    offset, state, owner = row(server, url)
    assert offset == DURABLE and owner is None  # the lease was released
    assert hash_state_of(state) == hashlib.sha256(data[:DURABLE]).hexdigest()
    assert partial.read_bytes() == data[:DURABLE]


def resume_to_the_end(
    server: Server, witness: Witness, data: bytes, url: str, storage: Path
) -> None:
    """A new client finds the offset by HEAD and sends the rest."""
    resumed = uploader(server, witness.auth, data, url=url)
    assert resumed.offset == DURABLE
    resumed.upload()
    assert_received(server, witness, data, url, storage)


def assert_received(server: Server, witness: Witness, data: bytes, url: str, storage: Path) -> None:
    """Received whole: the source's SHA-256 everywhere, the partial gone, the log verifies."""
    want = hashlib.sha256(data).hexdigest()
    status = httpx.get(
        f"{server.url}/api/v1/submissions/{witness.submission}", headers=witness.auth
    )
    assert [f["sha256"] for f in status.json()["files"]] == [want]
    stored = storage / "sha256" / want
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == want
    assert not (storage / "partial" / upload_id(url)).exists()
    assert_log_verifies(Settings(data_dir=server.data_dir, storage_url=f"file://{storage}"))


def assert_log_verifies(settings: Settings) -> None:
    """What `portal custody verify` checks: the log, its checkpoints, every original's bytes."""
    rt = build_runtime(settings)
    try:
        with rt.sessions() as db:
            report = audit_log_and_content(
                db, rt.storage, verifier_key=rt.log_verifier, origin=settings.log_origin
            )
    finally:
        rt.engine.dispose()
    assert report.ok, report.text()


# --- the cases ----------------------------------------------------------------------------------


@dataclass
class Squeeze:
    """Where storage lives, how to make it run out (`arm`) and how to give room back (`lift`)."""

    storage: Path
    arm: Callable[[Server], None]
    lift: Callable[[Server], None]


@contextlib.contextmanager
def full_disk(tmp_path: Path) -> Iterator[Squeeze]:
    """The storage folder is on a 16 MiB tmpfs; ballast fills it, deleting the ballast frees
    it. Writes fail with ENOSPC."""
    with tmpfs(tmp_path / "disk", 16 * MiB) as disk:
        held: list[Path] = []
        yield Squeeze(
            disk / "storage",
            arm=lambda server: held.append(ballast(disk, ROOM)),
            lift=lambda server: held.pop().unlink(),
        )


@contextlib.contextmanager
def file_size_limit(tmp_path: Path) -> Iterator[Squeeze]:
    """RLIMIT_FSIZE on the running server, set and raised with prlimit(2). Writes fail with
    EFBIG (Python ignores SIGXFSZ, which would otherwise kill the server).

    It limits every file the process writes, the SQLite database and its WAL too; those stay
    far below DURABLE + ROOM.
    """

    def limit(server: Server, soft: int) -> None:
        assert server.proc is not None
        hard = resource.RLIM_INFINITY  # raising the soft limit again needs no privilege
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))

    yield Squeeze(
        tmp_path / "storage",
        arm=lambda server: limit(server, DURABLE + ROOM),
        lift=lambda server: limit(server, resource.RLIM_INFINITY),
    )


@pytest.mark.parametrize("fault", ["full-disk", "file-size-limit"])
def test_running_out_of_space_mid_patch(tmp_path: Path, video: Path, fault: str) -> None:
    # Without mounting, RLIMIT_FSIZE is the next faithful way to run out (module docstring).
    squeeze = full_disk if fault == "full-disk" and mount_permitted() else file_size_limit
    data = padded(video, SIZE)
    with squeeze(tmp_path) as space, running(tmp_path, space.storage) as server:
        witness = open_submission(server)
        first = uploader(server, witness.auth, data)
        first.upload(stop_at=DURABLE)
        partial = space.storage / "partial" / upload_id(url_of(first))

        space.arm(server)
        with pytest.raises(TusUploadFailed) as refused:
            first.upload()  # its next PATCH runs out after ROOM bytes
        assert_refused(refused.value, first, 507, "insufficient_storage")
        assert_only_durable_bytes(server, url_of(first), witness, partial, data)

        space.lift(server)
        resume_to_the_end(server, witness, data, url_of(first), space.storage)


def test_thin_pool_runs_out_and_only_fsync_says_so(tmp_path: Path, video: Path) -> None:
    """Every write() of the PATCH succeeds; its fsync fails; nothing of it may be kept.

    After a failed fsync the pages that never reached the disk stay in the page cache, marked
    clean, and a second fsync reports success. So the partial must go back to the last good
    commit, and what is checked is read from the disk after a remount, not from the cache.
    """
    require_mounting()
    data = padded(video, SIZE)
    with (
        tmpfs(tmp_path / "pool", 64 * MiB) as pool,
        loop_ext4(pool / "ext4.img", 48 * MiB, tmp_path / "disk", thin=True) as disk,
    ):
        storage = disk.where / "storage"
        with running(tmp_path, storage) as server:
            witness = open_submission(server)
            first = uploader(server, witness.auth, data)
            first.upload(stop_at=DURABLE)
            partial = storage / "partial" / upload_id(url_of(first))

            # Settle ext4's own new blocks (folders) on the disk: from now on only file data
            # needs new room in the pool, as when a pool runs out under a busy filesystem.
            disk.remount()
            pool_ballast = ballast(pool, ROOM)
            with pytest.raises(TusUploadFailed) as refused:
                first.upload()
            assert_refused(refused.value, first, 507, "insufficient_storage")
            disk.remount()
            assert_only_durable_bytes(server, url_of(first), witness, partial, data)

            pool_ballast.unlink()  # the pool is given more room
            resume_to_the_end(server, witness, data, url_of(first), storage)


def test_io_error_mid_patch(tmp_path: Path, video: Path) -> None:
    """The disk dies while the body arrives: 503, and the bytes acknowledged before survive."""
    require_mounting()
    data = padded(video, SIZE)
    with loop_ext4(tmp_path / "ext4.img", 48 * MiB, tmp_path / "disk") as disk:
        storage = disk.where / "storage"
        with running(tmp_path, storage) as server:
            witness = open_submission(server)
            first = uploader(server, witness.auth, data)
            first.upload(stop_at=DURABLE)
            partial = storage / "partial" / upload_id(url_of(first))

            def body() -> Iterator[bytes]:
                yield data[DURABLE : DURABLE + MiB]
                # Once the server has written that much, the disk goes.
                deadline = time.monotonic() + 60
                while partial.stat().st_size < DURABLE + MiB:
                    assert time.monotonic() < deadline, "the server never wrote the first MiB"
                    time.sleep(0.01)
                disk.shut_down()
                yield data[DURABLE + MiB : DURABLE + CHUNK]

            r = httpx.patch(
                url_of(first),
                content=body(),
                headers={**TUS, **OCTET, **witness.auth, "Upload-Offset": str(DURABLE)},
                timeout=60,
            )
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "storage_unavailable"
            assert r.headers["Tus-Resumable"] == "1.0.0" and int(r.headers["Retry-After"]) > 0
            head = httpx.head(url_of(first), headers={**TUS, **witness.auth})
            assert head.headers["Upload-Offset"] == str(DURABLE)

            # The operator replaces the disk (here: mounts it again, the journal is replayed).
            # The dead disk refused the truncate too, so the partial may still hold more than
            # was acknowledged; never less, and the next PATCH drops the rest.
            disk.remount()
            offset, state, owner = row(server, url_of(first))
            assert (offset, owner) == (DURABLE, None)
            assert hash_state_of(state) == hashlib.sha256(data[:DURABLE]).hexdigest()
            assert partial.read_bytes()[:DURABLE] == data[:DURABLE]
            resume_to_the_end(server, witness, data, url_of(first), storage)


def test_database_fails_after_the_bytes_are_durable(
    tmp_path: Path, video: Path, postgres_url: str
) -> None:
    """Storage made the bytes durable, then the database would not record the offset.

    Driven through the upload service so the outage lands exactly between the two; PostgreSQL
    really stops taking connections. The offset stays where it was, and the next PATCH drops
    the bytes that storage holds past it.
    """
    database = fresh_database(postgres_url)
    name = make_url(database).database
    admin = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database,
        # Long enough that the writer never renews it mid-test; the clock is moved instead.
        upload_lock_lease=timedelta(hours=1),
    )
    data = padded(video, 4 * MiB)
    half = 2 * MiB
    with TestClient(create_app(settings)) as client:
        rt = client.app.state.runtime  # type: ignore[attr-defined]
        sub_id, token = new_submission(client)
        auth = {"Authorization": f"Bearer {token}"}
        url = create_upload(client, auth, len(data))
        assert patch(client, url, auth, 0, data[:half]).status_code == 204
        with rt.sessions() as db:
            submission = db.get(Submission, sub_id)
        writer = upload_patch.begin_patch(
            rt.upload_deps,
            submission=submission,
            upload_id=upload_id(url),
            offset=half,
            upload_length=None,
            content_length=MiB,
            checksum=None,
        )
        assert isinstance(writer, upload_patch.PatchWriter)
        writer.write(data[half : half + MiB])

        with psycopg.connect(admin, autocommit=True) as pg:
            pg.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            pg.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            try:
                with pytest.raises(StorageUnavailable) as refused:
                    writer.finish(complete=True)
            finally:
                pg.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        assert (refused.value.status, refused.value.code) == (503, "database_unavailable")
        assert int(refused.value.headers["Retry-After"]) > 0
        partial = settings.data_dir / "storage" / "partial" / upload_id(url)
        assert partial.stat().st_size == half + MiB  # durable in storage, not recorded

        head = client.head(url, headers={**TUS, **auth})
        assert head.headers["Upload-Offset"] == str(half)
        with rt.sessions() as db:
            upload = db.get(Upload, upload_id(url))
            assert upload is not None and upload.offset == half
            assert hash_state_of(upload.hash_state) == hashlib.sha256(data[:half]).hexdigest()
        # The database could not take the lease back either: it runs out on its own.
        assert patch(client, url, auth, half, data[half : half + MiB]).status_code == 423
        assert partial.stat().st_size == half + MiB  # refused without touching anything
        rt.clock = lambda: utcnow() + settings.upload_lock_lease + timedelta(minutes=1)

        r = patch(client, url, auth, half, data[half : half + MiB // 2])
        assert r.status_code == 204, r.text
        assert partial.stat().st_size == half + MiB // 2  # the unrecorded bytes were dropped
        offset = half + MiB // 2
        r = patch(client, url, auth, offset, data[offset:])
        assert r.status_code == 204, r.text
        files = client.get(f"/api/v1/submissions/{sub_id}", headers=auth).json()["files"]
        assert [f["sha256"] for f in files] == [hashlib.sha256(data).hexdigest()]
    assert_log_verifies(settings)


def test_disk_full_when_the_last_patch_is_finalised(tmp_path: Path, video: Path) -> None:
    """The last PATCH's bytes fit, but the folder for the original does not (no inodes left).

    Those bytes are durable and counted; the PATCH and every HEAD say 507 until there is room,
    then HEAD finishes the upload.
    """
    require_mounting()
    data = padded(video, SIZE)
    with tmpfs(tmp_path / "disk", 32 * MiB) as disk, running(tmp_path, disk / "storage") as server:
        witness = open_submission(server)
        first = uploader(server, witness.auth, data)
        first.upload(stop_at=SIZE - CHUNK)

        st = os.statvfs(disk)
        sh("mount", "-o", f"remount,nr_inodes={st.f_files - st.f_ffree}", str(disk))
        with pytest.raises(TusUploadFailed) as refused:
            first.upload()
        assert_refused(refused.value, first, 507, "insufficient_storage")
        head = httpx.head(url_of(first), headers={**TUS, **witness.auth})
        assert head.status_code == 507
        offset, state, owner = row(server, url_of(first))
        assert (offset, owner) == (SIZE, None)
        assert hash_state_of(state) == hashlib.sha256(data).hexdigest()
        assert (disk / "storage" / "partial" / upload_id(url_of(first))).read_bytes() == data

        sh("mount", "-o", f"remount,nr_inodes={st.f_files}", str(disk))
        head = httpx.head(url_of(first), headers={**TUS, **witness.auth})
        assert head.status_code == 200 and head.headers["Upload-Offset"] == str(SIZE)
        assert_received(server, witness, data, url_of(first), disk / "storage")
