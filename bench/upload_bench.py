"""Upload throughput and memory benchmark: the portal's tus server against a naive FastAPI upload.

Not a test. Starts real servers as child processes on 127.0.0.1 (free ports, temporary data
folders), uploads a large MP4-headed file to each, interleaved round by round, and prints
MB/s (10^6 bytes per second, wall clock) and server RSS figures.

    python bench/upload_bench.py                      # 1 GiB, 3 rounds, 64 MiB PATCHes, both
    python bench/upload_bench.py --size-mib 64 --rounds 1 --rss-size-mib 256   # smoke run
    python bench/upload_bench.py --py-spy prof/       # also one profiled upload per server

Targets: tus median MB/s >= 2.5x naive; server RSS growth < 32 MiB during a 2 GiB tus upload.
Servers:
- tus/uvicorn: `python -m portal serve` (the production command: uvicorn, httptools, uvloop);
- tus/granian: `granian --interface asgi --factory portal.app:create_app` (if installed);
- naive/uvicorn: bench/naive_app.py under uvicorn with the same worker settings.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
from rich.console import Console
from rich.table import Table

MiB = 1024 * 1024
MB = 1_000_000
BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
TUS = {"Tus-Resumable": "1.0.0"}
CONSENT = {"version": "1", "scopes": ["investigation"], "language": "es"}
READ_BLOCK = MiB
RSS_TARGET_MIB = 32
RATIO_TARGET = 2.5

console = Console(width=None if sys.stdout.isatty() else 140)


class BenchTimeout(Exception):
    """The whole run went past --max-minutes."""


# --- test file ---------------------------------------------------------------------------------


def make_mp4(path: Path) -> None:
    """A one-second H.264 MP4 (FFmpeg test pattern via PyAV); only its header matters."""
    import av

    graph = "testsrc2=size=320x240:rate=25:duration=1"
    with av.open(graph, format="lavfi") as src, av.open(str(path), "w") as dst:
        out: Any = dst.add_stream("libx264", rate=25)
        out.width, out.height, out.pix_fmt = 320, 240, "yuv420p"
        for frame in src.decode(video=0):
            for packet in out.encode(frame.reformat(format="yuv420p")):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)


def make_file(path: Path, size: int, head: bytes) -> str:
    """`head` followed by random bytes up to `size`; returns the SHA-256 hex digest."""
    if size < len(head):
        raise ValueError(f"size {size} is smaller than the MP4 header file ({len(head)} bytes)")
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        f.write(head)
        digest.update(head)
        left = size - len(head)
        while left:
            block = os.urandom(min(4 * MiB, left))
            f.write(block)
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def file_slice(path: Path, start: int, length: int) -> Iterator[bytes]:
    """Stream `length` bytes from `start` in READ_BLOCK pieces (never the whole file in memory)."""
    with open(path, "rb") as f:
        f.seek(start)
        left = length
        while left:
            block = f.read(min(READ_BLOCK, left))
            if not block:
                raise RuntimeError(f"{path.name} ended early")
            left -= len(block)
            yield block


# --- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    kind: str  # "tus" or "naive"
    cmd: list[str]
    env: dict[str, str]
    port: int
    data_dir: Path
    log: Path
    health_path: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        # Owner-only: the portal refuses a data folder other users can open.
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.log, "ab") as log:
            # Own session: Ctrl-C reaches only us, and stop() can end the whole group
            # (granian runs its worker in a child process).
            self.proc = subprocess.Popen(
                self.cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + self.health_path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        pgid = proc.pid  # start_new_session: the group id is the child's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        # Whatever is left of the group (a stuck server, granian's worker) is killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait(10)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def server_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "NAIVE_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **extra}


def tus_uvicorn(root: Path, env: dict[str, str] | None = None) -> Server:
    """`portal serve`, the production command; `env` adds PORTAL_ settings (database, storage)."""
    data, port = root / "tus-uvicorn", free_port()
    return Server(
        name="tus/uvicorn",
        kind="tus",
        cmd=[sys.executable, "-m", "portal", "serve", "--data-dir", str(data), "--port", str(port)],
        env=server_env(env or {}),
        port=port,
        data_dir=data,
        log=root / "tus-uvicorn.log",
        health_path="/api/v1/consent",
    )


def tus_granian(root: Path) -> Server:
    data, port = root / "tus-granian", free_port()
    return Server(
        name="tus/granian",
        kind="tus",
        cmd=[
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            "portal.app:create_app",
        ],
        env=server_env({"PORTAL_DATA_DIR": str(data)}),
        port=port,
        data_dir=data,
        log=root / "tus-granian.log",
        health_path="/api/v1/consent",
    )


def naive_uvicorn(root: Path) -> Server:
    data, port = root / "naive", free_port()
    spool = root / "naive-spool"
    spool.mkdir(parents=True, exist_ok=True)
    # Same worker settings as `portal serve`'s uvicorn.run: one process, auto loop (uvloop),
    # auto HTTP (httptools), no access log, no server header.
    return Server(
        name="naive/uvicorn",
        kind="naive",
        cmd=[
            sys.executable,
            "-m",
            "uvicorn",
            "naive_app:app",
            "--app-dir",
            str(BENCH_DIR),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--no-server-header",
            "--log-level",
            "warning",
        ],
        env=server_env({"NAIVE_DATA_DIR": str(data), "TMPDIR": str(spool)}),
        port=port,
        data_dir=data,
        log=root / "naive.log",
        health_path="/health",
    )


def granian_available() -> bool:
    try:
        metadata.version("granian")
    except metadata.PackageNotFoundError:
        return False
    return True


# --- measuring ---------------------------------------------------------------------------------


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_rss(pid: int) -> int:
    total = 0
    for p in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def tree_cpu(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


class RssSampler:
    """Peak RSS of a server's process tree, sampled every `interval` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak = tree_rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(psutil.Error):
            self.peak = max(self.peak, tree_rss(self.pid))


@dataclass
class Sample:
    seconds: float
    size: int
    idle_rss: int
    peak_rss: int
    server_cpu: float  # CPU seconds the server tree used during the upload
    client_cpu: float  # CPU seconds this process (the client) used during the upload

    @property
    def mbps(self) -> float:
        return self.size / MB / self.seconds

    @property
    def growth(self) -> int:
        return self.peak_rss - self.idle_rss

    @property
    def cpu_pct(self) -> float:
        return 100 * self.server_cpu / self.seconds

    @property
    def client_pct(self) -> float:
        return 100 * self.client_cpu / self.seconds


@dataclass
class Results:
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def add(self, name: str, s: Sample) -> None:
        self.samples.setdefault(name, []).append(s)

    def median_mbps(self, name: str) -> float:
        return statistics.median(s.mbps for s in self.samples[name])


def tus_upload(client: httpx.Client, srv: Server, path: Path, size: int, chunk: int) -> str:
    """Create a submission, upload `path` in `chunk`-byte PATCHes; return the server's SHA-256."""
    r = client.post(f"{srv.url}/api/v1/submissions", json={"consent": CONSENT})
    r.raise_for_status()
    sub_id, token = r.json()["id"], r.json()["witness_token"]
    auth = {"Authorization": f"Bearer {token}"}
    name = base64.b64encode(b"bench.mp4").decode()
    r = client.post(
        f"{srv.url}/api/v1/uploads",
        headers={**TUS, **auth, "Upload-Length": str(size), "Upload-Metadata": f"filename {name}"},
    )
    if r.status_code != 201:
        raise RuntimeError(f"tus create: {r.status_code} {r.text}")
    location = r.headers["Location"]
    offset = 0
    while offset < size:
        n = min(chunk, size - offset)
        r = client.patch(
            location,
            content=file_slice(path, offset, n),
            headers={
                **TUS,
                **auth,
                "Upload-Offset": str(offset),
                "Content-Length": str(n),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        if r.status_code != 204:
            raise RuntimeError(f"tus PATCH at {offset}: {r.status_code} {r.text}")
        offset = int(r.headers["Upload-Offset"])
    r = client.get(f"{srv.url}/api/v1/submissions/{sub_id}", headers=auth)
    r.raise_for_status()
    files = r.json()["files"]
    if len(files) != 1:
        raise RuntimeError(f"expected one stored file, the server lists {files}")
    return str(files[0]["sha256"])


def naive_upload(client: httpx.Client, srv: Server, path: Path, size: int, chunk: int) -> str:
    with open(path, "rb") as f:
        # httpx streams file objects in multipart bodies (64 KiB reads), length from seek/tell.
        r = client.post(f"{srv.url}/upload", files={"file": ("bench.mp4", f, "video/mp4")})
    r.raise_for_status()
    body = r.json()
    if body["size"] != size:
        raise RuntimeError(f"naive server stored {body['size']} bytes, sent {size}")
    for stored in srv.data_dir.glob("*.bin"):  # keep the disk tidy between rounds
        stored.unlink()
    return str(body["sha256"])


def measure(
    client: httpx.Client, srv: Server, path: Path, size: int, sha256: str, chunk: int
) -> Sample:
    os.sync()  # start every upload with no dirty pages left by the previous one
    time.sleep(0.5)
    idle = tree_rss(srv.pid)
    cpu0 = tree_cpu(srv.pid)
    me = psutil.Process()
    mine0 = sum(me.cpu_times()[:2])
    upload = tus_upload if srv.kind == "tus" else naive_upload
    with RssSampler(srv.pid) as sampler:
        t0 = time.perf_counter()
        got = upload(client, srv, path, size, chunk)
        seconds = time.perf_counter() - t0
    cpu = tree_cpu(srv.pid) - cpu0
    mine = sum(me.cpu_times()[:2]) - mine0
    if got != sha256:
        raise RuntimeError(f"{srv.name}: server SHA-256 {got} != file SHA-256 {sha256}")
    s = Sample(seconds, size, idle, sampler.peak, cpu, mine)
    console.print(
        f"  {srv.name:<13} {size / MiB:>5.0f} MiB {s.seconds:6.2f} s {s.mbps:6.1f} MB/s  "
        f"RSS {idle / MiB:.0f}->{s.peak_rss / MiB:.0f} MiB (+{s.growth / MiB:.1f})  "
        f"CPU server {s.cpu_pct:.0f}% client {s.client_pct:.0f}%  sha256 ok"
    )
    return s


@contextlib.contextmanager
def py_spy(pid: int, out: Path) -> Iterator[None]:
    """Record the server with py-spy (collapsed stacks) for the duration of the block."""
    exe = shutil.which("py-spy")
    if exe is None:
        console.print("[yellow]py-spy is not installed; skipping the profile[/yellow]")
        yield
        return
    proc = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "--subprocesses",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    time.sleep(1)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode:
            console.print(f"[yellow]py-spy: {err.decode(errors='replace')[-500:]}[/yellow]")
        else:
            console.print(f"  profile written: {out}")


# --- report ------------------------------------------------------------------------------------


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for pkg in (
        "uvicorn",
        "uvloop",
        "httptools",
        "granian",
        "starlette",
        "python-multipart",
        "httpx",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{pkg} {metadata.version(pkg)}")
    return (
        f"nproc {len(os.sched_getaffinity(0))} ({cpu}), "
        f"RAM {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}, load average {load()}\n" + ", ".join(versions)
    )


def report(results: Results, rss_runs: dict[str, Sample], args: argparse.Namespace) -> bool:
    naive = "naive/uvicorn"
    base = results.median_mbps(naive) if naive in results.samples else None
    ok = True
    t = Table(
        title=f"{args.size_mib} MiB uploads, {args.rounds} round(s), "
        f"tus PATCH {args.chunk_mib} MiB (MB = 10^6 B)"
    )
    for col in (
        "server",
        "MB/s per round",
        "median MB/s",
        "vs naive",
        "idle RSS MiB",
        "peak RSS MiB",
        "max growth MiB",
        "server CPU %",
        "client CPU %",
    ):
        t.add_column(col, justify="left" if col == "server" else "right", no_wrap=True)
    for name, samples in results.samples.items():
        med = results.median_mbps(name)
        ratio = ""
        if base and name != naive:
            met = med / base >= RATIO_TARGET
            ok &= met
            ratio = f"[{'green' if met else 'red'}]{med / base:.2f}x[/]"
        t.add_row(
            name,
            "/".join(f"{s.mbps:.0f}" for s in samples),
            f"{med:.1f}",
            ratio,
            f"{min(s.idle_rss for s in samples) / MiB:.1f}",
            f"{max(s.peak_rss for s in samples) / MiB:.1f}",
            f"{max(s.growth for s in samples) / MiB:.1f}",
            f"{statistics.median(s.cpu_pct for s in samples):.0f}",
            f"{statistics.median(s.client_pct for s in samples):.0f}",
        )
    console.print(t)
    console.print(f"target: tus median >= {RATIO_TARGET}x naive median")
    console.print(f"load average at the end: {load()} (other work on the machine skews MB/s)")
    if rss_runs:
        t2 = Table(
            title=f"tus RSS during one {args.rss_size_mib} MiB upload "
            f"(target growth < {RSS_TARGET_MIB} MiB)"
        )
        for col in ("server", "MB/s", "idle RSS MiB", "peak RSS MiB", "growth MiB"):
            t2.add_column(col, justify="left" if col == "server" else "right")
        for name, s in rss_runs.items():
            met = s.growth < RSS_TARGET_MIB * MiB
            ok &= met
            t2.add_row(
                name,
                f"{s.mbps:.1f}",
                f"{s.idle_rss / MiB:.1f}",
                f"{s.peak_rss / MiB:.1f}",
                f"[{'green' if met else 'red'}]{s.growth / MiB:.1f}[/]",
            )
        console.print(t2)
    return ok


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--size-mib", type=int, default=1024, help="file size per upload (1024)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    p.add_argument("--chunk-mib", type=int, default=64, help="tus PATCH size (64)")
    p.add_argument(
        "--server",
        choices=("uvicorn", "granian", "both"),
        default="both",
        help="which server(s) run the portal; the naive app always uses uvicorn",
    )
    p.add_argument(
        "--rss-size-mib",
        type=int,
        default=2048,
        help="size of the single tus upload watched for RSS growth; 0 skips (2048)",
    )
    p.add_argument(
        "--timeout", type=float, default=300, help="per-request read/write timeout in seconds (300)"
    )
    p.add_argument(
        "--max-minutes", type=float, default=60, help="stop the whole run after this long (60)"
    )
    p.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="after the rounds, one extra py-spy-profiled upload per server into DIR",
    )
    p.add_argument(
        "--warmup-mib",
        type=int,
        default=256,
        help="one uncounted upload of this size per server first; 0 skips (256)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    args = p.parse_args(argv)
    if (
        min(args.size_mib, args.rounds, args.chunk_mib) < 1
        or min(args.rss_size_mib, args.warmup_mib) < 0
    ):
        p.error("sizes and rounds must be positive")
    return args


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise BenchTimeout("the run went past --max-minutes; stopping")


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace, root: Path, stack: contextlib.ExitStack) -> bool:
    console.print(f"[bold]machine[/bold]: {machine_info()}")
    servers: list[Server] = []
    if args.server in ("uvicorn", "both"):
        servers.append(tus_uvicorn(root))
    if args.server in ("granian", "both"):
        if granian_available():
            servers.append(tus_granian(root))
        elif args.server == "granian":
            raise SystemExit("granian is not installed (pip install granian)")
        else:
            console.print("[yellow]granian is not installed; tus/granian skipped[/yellow]")
    naive = naive_uvicorn(root)
    servers.append(naive)

    console.print("making test files ...")
    head_path = root / "head.mp4"
    make_mp4(head_path)
    head = head_path.read_bytes()
    size = args.size_mib * MiB
    bench_file = root / "upload.mp4"
    sha = make_file(bench_file, size, head)

    for srv in servers:
        stack.callback(srv.stop)
        srv.start()
        console.print(f"started {srv.name} (pid {srv.pid}) on {srv.url}")

    timeout = httpx.Timeout(args.timeout, connect=10)
    client = stack.enter_context(httpx.Client(timeout=timeout))
    chunk = args.chunk_mib * MiB
    results = Results()
    if args.warmup_mib:
        # Not counted: first requests pay for imports, SQLite and page-cache warm-up.
        warm = min(args.warmup_mib * MiB, size)
        warm_file = root / "warmup.mp4"
        warm_sha = make_file(warm_file, warm, head)
        console.print(f"[bold]warm-up ({warm // MiB} MiB each, not counted)[/bold]")
        for srv in servers:
            measure(client, srv, warm_file, warm, warm_sha, chunk)
        warm_file.unlink()
    for rnd in range(1, args.rounds + 1):
        console.print(f"[bold]round {rnd}/{args.rounds}[/bold]")
        for srv in servers:
            results.add(srv.name, measure(client, srv, bench_file, size, sha, chunk))

    rss_runs: dict[str, Sample] = {}
    if args.rss_size_mib:
        rss_size = args.rss_size_mib * MiB
        rss_file = root / "rss.mp4"
        bench_file.unlink()
        console.print(f"[bold]RSS run: one {args.rss_size_mib} MiB tus upload per server[/bold]")
        rss_sha = make_file(rss_file, rss_size, head)
        for srv in servers:
            if srv.kind == "tus":
                rss_runs[srv.name] = measure(client, srv, rss_file, rss_size, rss_sha, chunk)
        rss_file.unlink()
        if args.py_spy:
            sha = make_file(bench_file, size, head)

    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)
        console.print("[bold]profiled uploads (not counted)[/bold]")
        for srv in servers:
            out = args.py_spy / f"{srv.name.replace('/', '-')}.txt"
            with py_spy(srv.pid, out):
                measure(client, srv, bench_file, size, sha, chunk)

    return report(results, rss_runs, args)


def bounded_main(
    args: argparse.Namespace,
    prefix: str,
    run_fn: Callable[[argparse.Namespace, Path, contextlib.ExitStack], bool],
) -> int:
    """Run a benchmark with a hard time limit, cleaning up servers and temp files on any exit."""
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGALRM, _raise_timeout)
    signal.alarm(max(1, int(args.max_minutes * 60)))
    with contextlib.ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix=prefix))
        if args.keep:
            console.print(f"keeping {root}")
        else:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        try:
            ok = run_fn(args, root, stack)
        except KeyboardInterrupt:
            console.print("[red]interrupted; cleaning up[/red]")
            return 130
        except BenchTimeout as exc:
            console.print(f"[red]{exc}[/red]")
            return 124
        finally:
            signal.alarm(0)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    return bounded_main(parse_args(argv), "upload-bench-", run)


if __name__ == "__main__":
    sys.exit(main())
