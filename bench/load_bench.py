"""Load benchmark: many witnesses uploading at once against one witness alone.

Not a test. Starts `python -m portal serve` as a child process on 127.0.0.1 (the production
command; by default on its embedded SQLite database and local folder), then, round by round,
interleaved:

- single: one witness alone uploads a --size-mib MP4-headed file in --chunk-mib PATCHes
  (--single-repeats times per round, one after another);
- concurrent: --witnesses witnesses at once, each with its own submission (created through
  `POST /api/v1/submissions` with consent), its own tus upload and the same PATCH size, from
  one asyncio task each in this process (httpx.AsyncClient, one connection per witness).

Every witness's file differs in its last bytes, so every upload stores new content, and the
SHA-256 the portal recorded (`GET /api/v1/submissions/{id}`) is checked against the local one.
Errors are counted, never retried: any non-2xx answer, any unexpected Upload-Offset, any
SHA-256 mismatch, any exception (timeouts included). Every witness makes at most
3 + ceil(size / chunk) requests, every phase has a deadline, the whole run --max-minutes.

Reported per phase: aggregate MB/s (10^6 bytes acknowledged / wall clock from the first
POST to the last PATCH answered; the last PATCH of an upload carries its finalise), PATCH
latency p50/p99/max, errors, server RSS and CPU, and, to show the client is not what limits
the figures, the client's CPU and its event loop's scheduling lag.

    python bench/load_bench.py                        # 32 x 64 MiB in 8 MiB PATCHes, 3 rounds
    python bench/load_bench.py --rounds 1 --witnesses 4 --single-repeats 1   # smoke run
    python bench/load_bench.py --backend postgres     # PostgreSQL + local folder
    python bench/load_bench.py --py-spy prof/         # also one profiled concurrent phase

Targets: 0 errors; concurrent aggregate MB/s >= single-upload MB/s (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import math
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# upload_bench (a sibling script) and tests.support.servers (in the checkout) are imported
# from here.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
from rich.table import Table
from upload_bench import (
    CONSENT,
    MB,
    READ_BLOCK,
    TUS,
    MiB,
    RssSampler,
    Server,
    bounded_main,
    console,
    load,
    machine_info,
    make_file,
    make_mp4,
    py_spy,
    tree_cpu,
    tree_rss,
    tus_uvicorn,
)

from portal.config import Settings

TAIL = 32  # bytes at the end of the file that differ per witness and per round
SINGLE, CONCURRENT = "single", "concurrent"
# The portal limits how many submissions and uploads one client address may create per
# window. Every witness here comes from 127.0.0.1, so the limits are raised, for this server
# only, far above what a run creates (~200): the limiter still counts every creation (its cost
# is measured) but never refuses one. A rate-limit setting the portal has and this table lacks
# stops the run before it starts (or pass it with --server-env).
RATE_LIMIT_ENV: dict[str, str] = {
    "PORTAL_RATE_LIMIT_WINDOW": "600",
    "PORTAL_RATE_LIMIT_SUBMISSIONS": "1000000",
    "PORTAL_RATE_LIMIT_UPLOADS": "1000000",
}
RATE_LIMIT_SETTING = re.compile(r"rate|limit|throttl|burst|per_(second|minute|hour)")


# --- what the witnesses send ---------------------------------------------------------------------


class Media:
    """One MP4-headed file in memory; each witness sends it with its own random last bytes.

    Held in memory so the client reads no disk while it sends; the SHA-256 of the shared
    prefix is computed once per size.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._prefix: dict[int, Any] = {}

    def witness(self, size: int) -> Content:
        if not len(self.data) >= size > TAIL:
            raise ValueError(f"size {size} is outside (TAIL, {len(self.data)}]")
        if size not in self._prefix:
            self._prefix[size] = hashlib.sha256(memoryview(self.data)[: size - TAIL])
        tail = os.urandom(TAIL)
        digest = self._prefix[size].copy()
        digest.update(tail)
        return Content(self.data, size, tail, digest.hexdigest())


@dataclass(frozen=True)
class Content:
    # Never in a repr: asyncio formats the main task's result (a Phase holding every witness's
    # Content) when asyncio.run restores the SIGINT handler, and 64 MiB of repr takes seconds.
    data: bytes = field(repr=False)
    size: int
    tail: bytes
    sha256: str

    def pieces(self, start: int, length: int) -> Iterator[bytes]:
        """Bytes [start, start + length) of this witness's file, in READ_BLOCK pieces."""
        cut = self.size - TAIL
        pos, end = start, start + length
        while pos < end:
            if pos < cut:
                stop = min(end, cut, pos + READ_BLOCK)
                yield self.data[pos:stop]
            else:
                stop = end
                yield self.tail[pos - cut : stop - cut]
            pos = stop

    async def body(self, start: int, length: int) -> AsyncIterator[bytes]:
        for piece in self.pieces(start, length):
            yield piece


# --- one witness ---------------------------------------------------------------------------------


class UploadError(Exception):
    """A witness's upload went wrong; `kind` groups errors in the report."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


def _expect(r: httpx.Response, status: int, what: str) -> None:
    if r.status_code == status:
        return
    code = ""
    with contextlib.suppress(ValueError, AttributeError):
        code = str(r.json().get("error", ""))
    kind = f"{what} {r.status_code}" + (f" {code}" if code else "")
    raise UploadError(kind, r.text[:300])


@dataclass
class Witness:
    content: Content
    patches: list[float] = field(default_factory=list)  # seconds per PATCH, last = finalise
    acknowledged: int = 0  # bytes the portal confirmed with Upload-Offset
    done_at: float | None = None  # perf_counter when the last PATCH was answered
    submission: str = ""
    token: str = ""
    error: str | None = None
    error_kind: str | None = None
    requests: int = 0

    async def upload(self, client: httpx.AsyncClient, url: str, chunk: int) -> None:
        try:
            await self._upload(client, url, chunk)
        except UploadError as exc:
            self.error, self.error_kind = str(exc), exc.kind
        except Exception as exc:  # a timeout, a dropped connection...: counted, not raised
            self.error, self.error_kind = f"{type(exc).__name__}: {exc}", type(exc).__name__

    async def _upload(self, client: httpx.AsyncClient, url: str, chunk: int) -> None:
        size = self.content.size
        self.requests += 1
        r = await client.post(f"{url}/api/v1/submissions", json={"consent": CONSENT})
        _expect(r, 201, "POST submission")
        self.submission, self.token = r.json()["id"], r.json()["witness_token"]
        auth = {"Authorization": f"Bearer {self.token}"}
        name = base64.b64encode(b"witness.mp4").decode()
        self.requests += 1
        r = await client.post(
            f"{url}/api/v1/uploads",
            headers={
                **TUS,
                **auth,
                "Upload-Length": str(size),
                "Upload-Metadata": f"filename {name}",
            },
        )
        _expect(r, 201, "POST upload")
        location = r.headers["Location"]
        offset = 0
        for _ in range(math.ceil(size / chunk)):  # bounded: never more PATCHes than chunks
            n = min(chunk, size - offset)
            self.requests += 1
            t0 = time.perf_counter()
            r = await client.patch(
                location,
                content=self.content.body(offset, n),
                headers={
                    **TUS,
                    **auth,
                    "Upload-Offset": str(offset),
                    "Content-Length": str(n),
                    "Content-Type": "application/offset+octet-stream",
                },
            )
            self.patches.append(time.perf_counter() - t0)
            _expect(r, 204, "PATCH")
            got = int(r.headers.get("Upload-Offset", -1))
            if got != offset + n:
                raise UploadError("PATCH offset", f"sent {offset}+{n}, portal answered {got}")
            offset = self.acknowledged = got
        self.done_at = time.perf_counter()

    async def verify(self, client: httpx.AsyncClient, url: str) -> None:
        """The SHA-256 the portal recorded must be the one of the bytes sent."""
        if self.error is not None:
            return
        try:
            self.requests += 1
            r = await client.get(
                f"{url}/api/v1/submissions/{self.submission}",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            _expect(r, 200, "GET submission")
            files = r.json()["files"]
            if [f["sha256"] for f in files] != [self.content.sha256]:
                raise UploadError("SHA-256 mismatch", f"portal lists {files}")
        except UploadError as exc:
            self.error, self.error_kind = str(exc), exc.kind
        except Exception as exc:
            self.error, self.error_kind = f"{type(exc).__name__}: {exc}", type(exc).__name__


# --- one phase -----------------------------------------------------------------------------------


class LoopLag:
    """How late this process's event loop wakes a 10 ms sleeper (a busy client shows lag)."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(time.perf_counter() - t0 - self.period)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    @property
    def p99(self) -> float:
        return percentile(self.lags, 99)


def cpu_pressure() -> str:
    """Share of the last 60 s in which some runnable task waited for a CPU (Linux PSI)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
        return f", CPU pressure {float(some[2].split('=')[1]):.0f}%"
    return ""


def percentile(xs: list[float], p: int) -> float:
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[p - 1]


@dataclass
class Phase:
    kind: str
    witnesses: list[Witness]
    seconds: float  # first POST to last PATCH answered (to the end if none was)
    elapsed: float  # first POST until every witness was done or had failed
    idle_rss: int
    peak_rss: int
    server_cpu: float  # CPU seconds over `elapsed`
    client_cpu: float
    loop_lag_p99: float

    @property
    def server_pct(self) -> float:
        return 100 * self.server_cpu / self.elapsed

    @property
    def client_pct(self) -> float:
        return 100 * self.client_cpu / self.elapsed

    @property
    def acknowledged(self) -> int:
        return sum(w.acknowledged for w in self.witnesses)

    @property
    def mbps(self) -> float:
        return self.acknowledged / MB / self.seconds

    @property
    def patches(self) -> list[float]:
        return [p for w in self.witnesses for p in w.patches]

    @property
    def last_patches(self) -> list[float]:
        """The PATCH that completed each upload (its bytes plus finalise)."""
        return [w.patches[-1] for w in self.witnesses if w.done_at is not None]

    @property
    def errors(self) -> Counter[str]:
        return Counter(w.error_kind for w in self.witnesses if w.error_kind is not None)


async def _phase(
    kind: str, srv: Server, contents: list[Content], chunk: int, args: argparse.Namespace
) -> Phase:
    n = len(contents)
    timeout = httpx.Timeout(args.timeout, connect=10)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    witnesses = [Witness(c) for c in contents]
    me = psutil.Process()
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        idle = tree_rss(srv.pid)
        cpu0, mine0 = tree_cpu(srv.pid), sum(me.cpu_times()[:2])
        with RssSampler(srv.pid) as rss, LoopLag() as lag:
            t0 = time.perf_counter()
            tasks = [asyncio.create_task(w.upload(client, srv.url, chunk)) for w in witnesses]
            _, late = await asyncio.wait(tasks, timeout=args.phase_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            stopped = time.perf_counter()
            end = max((w.done_at for w in witnesses if w.done_at is not None), default=stopped)
        server_cpu = tree_cpu(srv.pid) - cpu0
        client_cpu = sum(me.cpu_times()[:2]) - mine0
        for w in witnesses:
            if w.done_at is None and w.error is None:
                w.error = w.error_kind = f"not done after {args.phase_seconds:.0f} s"
        await asyncio.gather(*(w.verify(client, srv.url) for w in witnesses))
    seconds, elapsed = max(end - t0, 1e-6), max(stopped - t0, 1e-6)
    bound = 3 + math.ceil(contents[0].size / chunk)
    if any(w.requests > bound for w in witnesses):
        raise RuntimeError(f"a witness made more than {bound} requests")
    return Phase(kind, witnesses, seconds, elapsed, idle, rss.peak, server_cpu, client_cpu, lag.p99)


def run_phase(
    kind: str, srv: Server, contents: list[Content], chunk: int, args: argparse.Namespace
) -> Phase:
    os.sync()  # no dirty pages left over from the previous phase
    time.sleep(0.5)
    ph = asyncio.run(_phase(kind, srv, contents, chunk, args))
    errors = ", ".join(f"{k} x{v}" for k, v in ph.errors.items()) or "none"
    console.print(
        f"  {kind:<10} {len(contents):>3} x {contents[0].size / MiB:.0f} MiB "
        f"{ph.seconds:6.2f} s {ph.mbps:6.1f} MB/s  "
        f"PATCH p50 {1000 * percentile(ph.patches, 50):.0f} "
        f"p99 {1000 * percentile(ph.patches, 99):.0f} ms  RSS peak {ph.peak_rss / MiB:.0f} MiB  "
        f"CPU server {ph.server_pct:.0f}% client {ph.client_pct:.0f}%  errors {errors}"
    )
    for w in ph.witnesses:
        if w.error is not None:
            console.print(f"    [red]{w.error}[/red]")
            break  # one example; the counts above say how many
    return ph


# --- report --------------------------------------------------------------------------------------


def report(phases: dict[str, list[Phase]], srv: Server, args: argparse.Namespace) -> bool:
    def med(xs: list[float]) -> float:
        return statistics.median(xs) if xs else float("nan")

    single = med([p.mbps for p in phases[SINGLE]])
    t = Table(
        title=f"{args.witnesses} witnesses at once vs 1 alone: {args.size_mib} MiB each, "
        f"{args.chunk_mib} MiB PATCHes, {args.rounds} round(s), backend {args.backend}\n"
        "MB = 10^6 B; latencies in ms, pooled over rounds; last = the PATCH carrying finalise",
    )
    for col in (
        "phase",
        "median MB/s",
        "vs single",
        "PATCH p50/p99/max",
        "last p50",
        "errors",
        "RSS MiB idle/peak",
        "CPU % srv/cli",
        "loop lag p99",
    ):
        t.add_column(col, justify="left" if col == "phase" else "right", no_wrap=True)
    ok = True
    for kind in (SINGLE, CONCURRENT):
        runs = phases[kind]
        mbps = med([p.mbps for p in runs])
        pooled = [x for p in runs for x in p.patches]
        last = [x for p in runs for x in p.last_patches]
        errors = sum(sum(p.errors.values()) for p in runs)
        ok &= errors == 0
        ratio = mbps / single if single else float("nan")
        ratio_text = f"{ratio:.2f}x"
        if kind == CONCURRENT:
            ok &= ratio >= 1
            ratio_text = f"[{'green' if ratio >= 1 else 'red'}]{ratio_text}[/]"
        t.add_row(
            f"{kind} ({len(runs[0].witnesses)})",
            f"{mbps:.1f}",
            ratio_text,
            f"{1000 * percentile(pooled, 50):.0f}/{1000 * percentile(pooled, 99):.0f}/"
            f"{1000 * max(pooled, default=float('nan')):.0f}",
            f"{1000 * percentile(last, 50):.0f}",
            f"[{'green' if errors == 0 else 'red'}]{errors}[/]",
            f"{min(p.idle_rss for p in runs) / MiB:.0f}/{max(p.peak_rss for p in runs) / MiB:.0f}",
            f"{med([p.server_pct for p in runs]):.0f}/{med([p.client_pct for p in runs]):.0f}",
            f"{1000 * max(p.loop_lag_p99 for p in runs):.1f}",
        )
    console.print(t)
    for kind in (SINGLE, CONCURRENT):
        console.print(f"{kind} MB/s per run: " + " / ".join(f"{p.mbps:.0f}" for p in phases[kind]))
    kinds = Counter[str]()
    for runs in phases.values():
        for p in runs:
            kinds.update(p.errors)
    console.print("errors by kind: " + (", ".join(f"{k} x{v}" for k, v in kinds.items()) or "none"))
    logged = server_log_problems(srv)
    console.print(f"server log: {logged or 'no tracebacks or errors'}")
    console.print(
        "targets: 0 errors; concurrent median aggregate >= single median: "
        f"[{'green' if ok else 'red'}]{'met' if ok else 'missed'}[/]"
    )
    console.print(
        f"load average at the end: {load()}{cpu_pressure()} (other work on the machine skews MB/s)"
    )
    return ok


def server_log_problems(srv: Server) -> str:
    try:
        text = srv.log.read_text(errors="replace")
    except OSError:
        return ""
    tracebacks = text.count("Traceback (most recent call last)")
    errors = sum(1 for line in text.splitlines() if line.startswith(("ERROR", "CRITICAL")))
    return f"{tracebacks} tracebacks, {errors} ERROR lines" if tracebacks or errors else ""


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--witnesses", type=int, default=32, help="concurrent witnesses (32)")
    p.add_argument("--size-mib", type=int, default=64, help="file size per witness (64)")
    p.add_argument("--chunk-mib", type=int, default=8, help="tus PATCH size (8)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    p.add_argument("--single-repeats", type=int, default=3, help="single uploads per round (3)")
    p.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "postgres-s3"),
        default="sqlite",
        help="sqlite: embedded default, SQLite + local folder; postgres: PostgreSQL + local "
        "folder; postgres-s3: PostgreSQL + SeaweedFS S3 (test servers, tests/support/servers.py)",
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the portal (e.g. a rate-limit setting); repeatable",
    )
    p.add_argument(
        "--timeout", type=float, default=120, help="per-request read/write timeout in seconds"
    )
    p.add_argument(
        "--phase-seconds", type=float, default=300, help="deadline of one phase in seconds (300)"
    )
    p.add_argument(
        "--max-minutes", type=float, default=20, help="stop the whole run after this long (20)"
    )
    p.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="after the rounds, one extra py-spy-profiled concurrent phase into DIR",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (log, data)")
    args = p.parse_args(argv)
    if min(args.witnesses, args.size_mib, args.chunk_mib, args.rounds, args.single_repeats) < 1:
        p.error("counts and sizes must be positive")
    for item in args.server_env:
        if not re.fullmatch(r"PORTAL_[A-Z0-9_]+=.*", item):
            p.error(f"--server-env takes PORTAL_NAME=VALUE, not {item!r}")
    return args


def portal_env(args: argparse.Namespace) -> dict[str, str]:
    """The limiter lifted (see RATE_LIMIT_ENV), plus --server-env."""
    extra = dict(item.split("=", 1) for item in args.server_env)
    known = {f"PORTAL_{name.upper()}" for name in Settings.model_fields}
    found = {
        f"PORTAL_{name.upper()}"
        for name in Settings.model_fields
        if RATE_LIMIT_SETTING.search(name)
    }
    for name in sorted(RATE_LIMIT_ENV.keys() - known):
        console.print(f"[yellow]{name} is not a portal setting (any more?); ignored[/yellow]")
    missing = sorted(found - RATE_LIMIT_ENV.keys() - extra.keys())
    if missing:
        raise SystemExit(
            f"the portal has rate-limit settings this benchmark does not lift: {missing}. "
            "All witnesses share 127.0.0.1; add them to RATE_LIMIT_ENV in bench/load_bench.py "
            "(or pass --server-env NAME=VALUE) so the limiter does not distort the run."
        )
    env = {k: v for k, v in RATE_LIMIT_ENV.items() if k in known} | extra
    for name, value in env.items():
        console.print(f"portal setting for this run: {name}={value}")
    return env


def start_backend(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, str]:
    """Environment pointing the portal at PostgreSQL (and S3), started here; {} for SQLite."""
    if args.backend == "sqlite":
        return {}
    from tests.support.servers import fresh_database, start_postgres, start_seaweed

    console.print("starting PostgreSQL (test server: fsync off) ...")
    env = {"PORTAL_DATABASE_URL": fresh_database(stack.enter_context(start_postgres()))}
    if args.backend == "postgres-s3":
        console.print("starting SeaweedFS ...")
        seaweed = stack.enter_context(start_seaweed())
        bucket = seaweed.new_bucket(object_lock=True)
        env |= {
            **seaweed.env,
            "PORTAL_STORAGE_URL": f"s3://{bucket}/portal",
            "PORTAL_S3_ENDPOINT_URL": seaweed.endpoint_url,
        }
    return env


def run(args: argparse.Namespace, root: Path, stack: contextlib.ExitStack) -> bool:
    console.print(f"[bold]machine[/bold]: {machine_info()}")
    console.print(f"client: asyncio + httpx {httpx.__version__}, one task per witness")
    env = portal_env(args)
    env |= start_backend(args, stack)

    console.print("making the test file ...")
    head_path = root / "head.mp4"
    make_mp4(head_path)
    size = args.size_mib * MiB
    base_path = root / "base.mp4"
    make_file(base_path, size, head_path.read_bytes())
    media = Media(base_path.read_bytes())
    base_path.unlink()
    chunk = args.chunk_mib * MiB
    if size <= TAIL:
        raise SystemExit("--size-mib is too small")

    srv = tus_uvicorn(root, env)
    stack.callback(srv.stop)
    srv.start()
    console.print(f"started the portal (pid {srv.pid}) on {srv.url}")

    def single() -> Phase:
        return run_phase(SINGLE, srv, [media.witness(size)], chunk, args)

    def concurrent(n: int = size) -> Phase:
        contents = [media.witness(n) for _ in range(args.witnesses)]
        return run_phase(CONCURRENT, srv, contents, chunk, args)

    # Not counted: first requests pay for imports, thread and connection pools, page cache.
    console.print("[bold]warm-up (not counted)[/bold]")
    single()
    concurrent(min(size, chunk))

    phases: dict[str, list[Phase]] = {SINGLE: [], CONCURRENT: []}
    for rnd in range(1, args.rounds + 1):
        console.print(f"[bold]round {rnd}/{args.rounds}[/bold] (load {load()}{cpu_pressure()})")
        for _ in range(args.single_repeats):
            phases[SINGLE].append(single())
        phases[CONCURRENT].append(concurrent())

    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)
        out = args.py_spy / f"load-{args.backend}.txt"
        console.print("[bold]profiled concurrent phase (not counted)[/bold]")
        with py_spy(srv.pid, out):
            concurrent()
    return report(phases, srv, args)


def main(argv: list[str] | None = None) -> int:
    return bounded_main(parse_args(argv), "load-bench-", run)


if __name__ == "__main__":
    sys.exit(main())
