"""Crowd benchmark: N phones on poor links finishing their uploads at once, against the peer.

Not a test. Starts `python -m portal serve` (SQLite + local folder by default, `--postgres`
for PostgreSQL) and node's `@tus/server` with `@tus/file-store` (bench/tus_peer.mjs; install
the peer once with `npm ci --prefix bench`) on 127.0.0.1, then, round by round, interleaved
(the server that goes first alternates), for each load N x size and each mode:

- every witness opens a submission (portal only: the peer has none) and a tus upload, then all
  at once send one PATCH whose body trickles in 16-32 KiB pieces every 0.2 s;
- mode `final`: that PATCH carries the whole file, so its answer waits for the finalise;
  mode `nonfinal`: it carries all but the last 32 bytes, which a second, untimed PATCH sends.

"ack" is the time from the last byte of the timed PATCH leaving the client to its answer.
Every upload's SHA-256 is checked: the portal's as it reports it (`GET /api/v1/submissions/
{id}`), with its receipt verified offline (inclusion proof under a signed checkpoint), the
peer's by hashing the file its store wrote. An error is any non-2xx answer, wrong
offset, mismatch or exception, never retried.

    python bench/crowd_bench.py                                # 200 x 2 MiB and 1000 x 1 MiB
    python bench/crowd_bench.py --loads 100x1 --rounds 1       # a small run on a busy machine
    python bench/crowd_bench.py --postgres --modes final
    python bench/crowd_bench.py --loads 200x1 --py-spy prof/   # profile the portal's round

Goals (ratios in one run, 1000 finishing together): ack p99 <= 3x the peer's, CPU per MB
<= 2.5x, wall <= 1.3x, zero errors. The machine's SHA-256 and fsync'd write throughput are
printed as the physical limits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from load_bench import RATE_LIMIT_ENV, UploadError, _expect, percentile
from rich.table import Table
from upload_bench import (
    BENCH_DIR,
    CONSENT,
    MB,
    TUS,
    MiB,
    RssSampler,
    Server,
    bounded_main,
    console,
    free_port,
    load,
    machine_info,
    make_mp4,
    py_spy,
    tree_cpu,
    tus_uvicorn,
)

from portal.custody.receipt import verify_receipt

TAIL = 32
PIECE = (16 * 1024, 32 * 1024)
PAUSE = 0.2
PEER = "@tus/server"
OCTET = {"Content-Type": "application/offset+octet-stream"}


def peer(root: Path) -> Server:
    data, port = root / "peer", free_port()
    return Server(
        name=PEER,
        kind="tus",
        cmd=["node", str(BENCH_DIR / "tus_peer.mjs"), str(port), str(data)],
        env=dict(os.environ),
        port=port,
        data_dir=data,
        log=root / "peer.log",
        health_path="/health",
    )


# --- one witness ---------------------------------------------------------------------------------


@dataclass
class Witness:
    data: bytes  # this witness's whole file
    timed: int  # bytes in the timed PATCH
    last_byte: float = 0.0
    ack: float | None = None
    id: str = ""
    token: str = ""
    error: str | None = None

    async def trickle(self, start: int, end: int) -> AsyncIterator[bytes]:
        pos = start
        while pos < end:
            n = min(end - pos, random.randint(*PIECE))
            yield self.data[pos : pos + n]
            pos += n
            if pos < end:
                await asyncio.sleep(PAUSE)
        self.last_byte = time.perf_counter()  # httpx asks past the end once all is written

    async def run(self, http: httpx.AsyncClient, srv: Server, portal: bool) -> None:
        try:
            await self._run(http, srv, portal)
        except UploadError as exc:
            self.error = exc.kind
        except Exception as exc:  # a timeout, a dropped connection: counted, never retried
            self.error = type(exc).__name__

    async def _run(self, http: httpx.AsyncClient, srv: Server, portal: bool) -> None:
        auth: dict[str, str] = {}
        if portal:
            r = await http.post(f"{srv.url}/api/v1/submissions", json={"consent": CONSENT})
            _expect(r, 201, "POST submission")
            self.id, self.token = r.json()["id"], r.json()["witness_token"]
            auth = {"Authorization": f"Bearer {self.token}"}
        path = "/api/v1/uploads" if portal else "/files"
        size = len(self.data)
        r = await http.post(srv.url + path, headers={**TUS, **auth, "Upload-Length": str(size)})
        _expect(r, 201, "POST upload")
        location = httpx.URL(srv.url).join(r.headers["Location"])
        if not portal:
            self.id = location.path.rsplit("/", 1)[-1]
        for start, end, timed in ((0, self.timed, True), (self.timed, size, False)):
            if start == end:
                continue
            r = await http.patch(
                location,
                content=self.trickle(start, end) if timed else self.data[start:end],
                headers={**TUS, **auth, **OCTET, "Upload-Offset": str(start)},
            )
            if timed:
                self.ack = time.perf_counter() - self.last_byte
            _expect(r, 204, "PATCH")
            if int(r.headers.get("Upload-Offset", -1)) != end:
                raise UploadError("PATCH offset", r.headers.get("Upload-Offset", "none"))

    async def verify(
        self, http: httpx.AsyncClient, srv: Server, portal: bool, log_key: str
    ) -> None:
        if self.error is not None:
            return
        try:
            await self._verify(http, srv, portal, log_key)
        except httpx.TransportError as exc:  # counted like the upload's own, never retried
            self.error = f"verify: {type(exc).__name__}"

    async def _verify(
        self, http: httpx.AsyncClient, srv: Server, portal: bool, log_key: str
    ) -> None:
        want = hashlib.sha256(self.data).hexdigest()
        if portal:
            r = await http.get(
                f"{srv.url}/api/v1/submissions/{self.id}",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            got = [f["sha256"] for f in r.json().get("files", [])] if r.status_code == 200 else []
            # The receipt: its file proven by inclusion under a checkpoint the log signed.
            r = await http.get(
                f"{srv.url}/api/v1/submissions/{self.id}/receipt",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            if r.status_code != 200 or not verify_receipt(r.json(), log_key).ok:
                self.error = f"receipt {r.status_code} not verified"
                return
        else:
            got = [hashlib.sha256((srv.data_dir / self.id).read_bytes()).hexdigest()]
        if got != [want]:
            self.error = "SHA-256 mismatch"


# --- one phase -----------------------------------------------------------------------------------


@dataclass
class Phase:
    server: str
    load: str
    mode: str
    n: int
    size: int
    wall: float
    cpu: float
    rss: int
    acks: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def cpu_ms_per_mb(self) -> float:
        return 1000 * self.cpu / (self.n * self.size / MB)


async def _phase(
    srv: Server, portal: bool, head: bytes, n: int, size: int, final: bool
) -> list[Witness]:
    # A real MP4 first (the portal refuses what is not video), random bytes after it.
    base = head[:size] + os.urandom(max(0, size - len(head)))
    crowd = []
    for _ in range(n):  # each file differs in its last bytes: every upload stores new content
        data = base[:-TAIL] + os.urandom(TAIL)
        crowd.append(Witness(data, size if final else size - TAIL))
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(300, connect=60, pool=None)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        await asyncio.gather(*(w.run(http, srv, portal) for w in crowd))
        log_key = (
            (await http.get(f"{srv.url}/api/v1/log/public-key")).text.strip() if portal else ""
        )
        await asyncio.gather(*(w.verify(http, srv, portal, log_key) for w in crowd))
    return crowd


def run_phase(srv: Server, head: bytes, n: int, size: int, mode: str, label: str) -> Phase:
    portal = srv.name != PEER
    cpu0 = tree_cpu(srv.pid)
    with RssSampler(srv.pid) as rss:
        t0 = time.perf_counter()
        crowd = asyncio.run(_phase(srv, portal, head, n, size, mode == "final"))
        wall = time.perf_counter() - t0
    phase = Phase(srv.name, label, mode, n, size, wall, tree_cpu(srv.pid) - cpu0, rss.peak)
    phase.acks = [w.ack for w in crowd if w.ack is not None and w.error is None]
    phase.errors = Counter(w.error for w in crowd if w.error is not None)
    console.print(
        f"  {srv.name:12} {label} {mode:8} wall {wall:6.1f} s  ack p50/p99 "
        f"{1000 * percentile(phase.acks, 50):7.0f} / {1000 * percentile(phase.acks, 99):7.0f} ms"
        f"  errors {sum(phase.errors.values())}  load {load()}"
    )
    return phase


# --- the physical limits -------------------------------------------------------------------------


def limits(root: Path) -> str:
    """SHA-256 and fsync'd write throughput of this machine, one core, 256 MiB."""
    block = os.urandom(8 * MiB)
    t0 = time.perf_counter()
    h = hashlib.sha256()
    for _ in range(32):
        h.update(block)
    sha = 256 * MiB / MB / (time.perf_counter() - t0)
    path = root / "fsync.bin"
    t0 = time.perf_counter()
    with open(path, "wb") as f:
        for _ in range(32):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    write = 256 * MiB / MB / (time.perf_counter() - t0)
    path.unlink()
    small = root / "small.bin"
    t0 = time.perf_counter()
    for _ in range(50):  # what one durable commit costs: a small write and its fsync
        with open(small, "wb") as f:
            f.write(b"x" * 4096)
            os.fsync(f.fileno())
    fsync_ms = 1000 * (time.perf_counter() - t0) / 50
    return (
        f"SHA-256 {sha:.0f} MB/s, fsync'd write {write:.0f} MB/s, "
        f"4 KiB write+fsync {fsync_ms:.1f} ms"
    )


# --- report --------------------------------------------------------------------------------------


def report(phases: list[Phase]) -> bool:
    def med(xs: list[float]) -> float:
        return statistics.median(xs) if xs else float("nan")

    table = Table(title=f"crowd: interleaved rounds, medians over rounds (load {load()})")
    for col in ("load", "mode", "server", "wall s", "ack p50 / p99 / max ms", "CPU ms/MB",
                "RSS peak MiB", "errors", "rounds"):  # fmt: skip
        table.add_column(col)
    ok = True
    keys = sorted({(p.load, p.mode, p.server) for p in phases})
    summary: dict[tuple[str, str, str], tuple[float, float, float]] = {}
    for key in keys:
        group = [p for p in phases if (p.load, p.mode, p.server) == key]
        acks = [1000 * percentile(p.acks, q) for p in group for q in (50, 99)]
        p50, p99 = med(acks[0::2]), med(acks[1::2])
        top = max((1000 * max(p.acks) for p in group if p.acks), default=float("nan"))
        wall, cpu = med([p.wall for p in group]), med([p.cpu_ms_per_mb for p in group])
        errors = sum((p.errors for p in group), Counter[str]())
        ok &= not errors
        summary[key] = (wall, p99, cpu)
        table.add_row(
            key[0], key[1], key[2], f"{wall:.1f}", f"{p50:,.0f} / {p99:,.0f} / {top:,.0f}",
            f"{cpu:.1f}", f"{max(p.rss for p in group) / MiB:.0f}",
            ", ".join(f"{k} x{v}" for k, v in errors.items()) or "0", str(len(group)),
        )  # fmt: skip
    console.print(table)
    for (lo, mode, name), (wall, p99, cpu) in summary.items():
        other = summary.get((lo, mode, PEER))
        if name == PEER or other is None:
            continue
        goals = (wall / other[0] <= 1.3, p99 / other[1] <= 3, cpu / other[2] <= 2.5)
        console.print(
            f"{lo} {mode}: portal / peer  wall {wall / other[0]:.2f}x (goal <= 1.3)  "
            f"ack p99 {p99 / other[1]:.2f}x (<= 3)  CPU per MB {cpu / other[2]:.2f}x (<= 2.5)  "
            + ("[green]goals met[/green]" if all(goals) else "[yellow]goals not met[/yellow]")
        )
    return ok


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--loads", default="200x2,1000x1", help="N x MiB, comma-separated")
    p.add_argument("--modes", default="nonfinal,final", help="nonfinal and/or final")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--postgres", action="store_true", help="the portal on PostgreSQL")
    p.add_argument("--server-env", action="append", default=[], help="PORTAL_NAME=VALUE")
    p.add_argument("--py-spy", type=Path, help="profile the portal's first round into this folder")
    p.add_argument("--max-minutes", type=float, default=60)
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args(argv)
    args.loads = [tuple(int(x) for x in lo.split("x")) for lo in args.loads.split(",")]
    args.modes = args.modes.split(",")
    if set(args.modes) - {"final", "nonfinal"}:
        p.error("--modes takes final and/or nonfinal")
    return args


def run(args: argparse.Namespace, root: Path, stack: contextlib.ExitStack) -> bool:
    if not (BENCH_DIR / "node_modules" / "@tus" / "server").is_dir():
        raise SystemExit("the peer is not installed: npm ci --prefix bench")
    console.print(machine_info())
    console.print(f"physical limits: {limits(root)}")
    env = dict(RATE_LIMIT_ENV) | dict(item.split("=", 1) for item in args.server_env)
    if args.postgres:
        from tests.support.servers import fresh_database, start_postgres

        env["PORTAL_DATABASE_URL"] = fresh_database(stack.enter_context(start_postgres()))
    make_mp4(root / "head.mp4")
    head = (root / "head.mp4").read_bytes()
    servers = [tus_uvicorn(root, env), peer(root)]
    servers[0].name = "portal"
    for srv in servers:
        srv.start()
        stack.callback(srv.stop)
    phases: list[Phase] = []
    for rnd in range(args.rounds):
        for n, mib in args.loads:
            for mode in args.modes:
                order = servers if rnd % 2 == 0 else servers[::-1]
                for srv in order:
                    profile = args.py_spy and rnd == 0 and srv is servers[0]
                    with contextlib.ExitStack() as prof:
                        if profile:
                            args.py_spy.mkdir(parents=True, exist_ok=True)
                            out = args.py_spy / f"portal-{n}x{mib}-{mode}.txt"
                            prof.enter_context(py_spy(srv.pid, out))
                        phases.append(run_phase(srv, head, n, mib * MiB, mode, f"{n} x {mib} MiB"))
                    shutil.rmtree(servers[1].data_dir, ignore_errors=True)  # the peer's files
                    servers[1].data_dir.mkdir()
    return report(phases)


def main(argv: list[str] | None = None) -> int:
    return bounded_main(parse_args(argv), "crowd-bench-", run)


if __name__ == "__main__":
    tempfile.tempdir = os.environ.get("TMPDIR") or None
    sys.exit(main())
