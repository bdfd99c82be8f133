"""S3 ingest benchmark: the portal's tus endpoint on PostgreSQL + S3 against boto3 `upload_file`.

Not a test. Starts a throwaway SeaweedFS (`weed mini`) and PostgreSQL (tests/support/servers.py),
then `python -m portal serve` as a child process configured like production: PostgreSQL database,
`s3://<Object Lock bucket>/portal` storage. Round by round, interleaved, the same MP4-headed
file (a few bytes changed per round, so every round stores new content) is uploaded

- through the portal's tus endpoint in --chunk-mib PATCHes: wall clock from the tus creation
  POST until the last PATCH returns, finalise included (it completes the multipart upload,
  copies it server-side to its content-addressed key and derives metadata); the SHA-256 the
  portal recorded is checked through `GET /api/v1/submissions/{id}`;
- with boto3 `upload_file` (default TransferConfig) to a plain bucket and to an Object Lock
  bucket on the same SeaweedFS.

MB/s is 10^6 bytes per second of wall clock. Target: tus median >= 0.7x boto3's (same, Object
Lock, bucket). To show where the portal's time goes, each PATCH is timed on its own (the last
one carries finalise) and every round also times a standalone server-side copy of an object of
the same size with the portal's own TransferConfig (what finalise's copy does) and a boto3
upload with PIPELINE parts in flight, in the portal's part size (how a PATCH writes).

    python bench/s3_bench.py                          # 512 MiB, 3 rounds, 64 MiB PATCHes
    python bench/s3_bench.py --size-mib 64 --rounds 1 --warmup-mib 0   # smoke run
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

# upload_bench (a sibling script) and tests.support.servers (in the checkout) are imported
# from here.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped, unused-ignore]
from rich.table import Table
from upload_bench import (
    CONSENT,
    MB,
    TUS,
    MiB,
    RssSampler,
    Server,
    bounded_main,
    console,
    file_slice,
    load,
    machine_info,
    make_file,
    make_mp4,
    tree_cpu,
    tree_rss,
    tus_uvicorn,
)

from portal.storage.s3 import PART_SIZE, PIPELINE, S3Storage
from tests.support.servers import Seaweed, fresh_database, start_postgres, start_seaweed

RATIO_TARGET = 0.7
TAIL = 32  # bytes at the end of the file rewritten every round


class BenchTimeout(Exception):
    """The whole run went past --max-minutes."""


# --- measuring ---------------------------------------------------------------------------------


def weed_pid() -> int | None:
    """`weed mini` is a child of this process (tests.support.servers starts it with Popen)."""
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if p.name() == "weed":
                return int(p.pid)
    return None


class Cpu:
    """CPU seconds used by the portal tree, weed and this process (the client) over a block."""

    def __init__(self, portal_pid: int | None, weed: int | None) -> None:
        self.pids = {"portal": portal_pid, "weed": weed}
        self.used: dict[str, float] = {}
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        out = {"client": sum(psutil.Process().cpu_times()[:2])}
        for name, pid in self.pids.items():
            out[name] = tree_cpu(pid) if pid is not None else 0.0
        return out

    def __enter__(self) -> Cpu:
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        self.used = {k: end[k] - self._start[k] for k in end}


@dataclass
class Sample:
    seconds: float
    size: int
    cpu: dict[str, float]
    patches: list[tuple[int, float]] = field(default_factory=list)  # (bytes, seconds) per PATCH
    create: float = 0.0  # the tus creation POST
    rss_growth: int = 0

    @property
    def mbps(self) -> float:
        return self.size / MB / self.seconds

    def cpu_pct(self, who: str) -> float:
        return 100 * self.cpu.get(who, 0.0) / self.seconds


def prepare() -> None:
    os.sync()  # no dirty pages left over from the previous upload
    time.sleep(0.5)


def tus_upload(
    client: httpx.Client, srv: Server, weed: int | None, path: Path, size: int, chunk: int
) -> tuple[Sample, str]:
    """One tus upload; returns the timings and the SHA-256 the portal recorded."""
    r = client.post(f"{srv.url}/api/v1/submissions", json={"consent": CONSENT})
    r.raise_for_status()
    sub_id, token = r.json()["id"], r.json()["witness_token"]
    auth = {"Authorization": f"Bearer {token}"}
    name = base64.b64encode(b"bench.mp4").decode()
    prepare()
    patches: list[tuple[int, float]] = []
    idle = tree_rss(srv.pid)
    with RssSampler(srv.pid) as rss, Cpu(srv.pid, weed) as cpu:
        t0 = time.perf_counter()
        r = client.post(
            f"{srv.url}/api/v1/uploads",
            headers={
                **TUS,
                **auth,
                "Upload-Length": str(size),
                "Upload-Metadata": f"filename {name}",
            },
        )
        if r.status_code != 201:
            raise RuntimeError(f"tus create: {r.status_code} {r.text}")
        location = r.headers["Location"]
        created = time.perf_counter() - t0
        offset = 0
        while offset < size:
            n = min(chunk, size - offset)
            p0 = time.perf_counter()
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
            patches.append((n, time.perf_counter() - p0))
            if r.status_code != 204:
                raise RuntimeError(f"tus PATCH at {offset}: {r.status_code} {r.text}")
            offset = int(r.headers["Upload-Offset"])
        seconds = time.perf_counter() - t0
    r = client.get(f"{srv.url}/api/v1/submissions/{sub_id}", headers=auth)
    r.raise_for_status()
    files = r.json()["files"]
    if len(files) != 1:
        raise RuntimeError(f"expected one stored file, the portal lists {files}")
    sample = Sample(seconds, size, cpu.used, patches, created, rss.peak - idle)
    return sample, str(files[0]["sha256"])


def delete_all(s3: Any, bucket: str, key: str) -> None:
    """Every version of `key` (no retention is set on the benchmark's own objects)."""
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]:
        if v["Key"] == key:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])


def boto3_upload(
    s3: Any, weed: int | None, bucket: str, key: str, path: Path, size: int, config: Any = None
) -> Sample:
    prepare()
    with Cpu(None, weed) as cpu:
        t0 = time.perf_counter()
        s3.upload_file(str(path), bucket, key, Config=config)  # None: default TransferConfig
        seconds = time.perf_counter() - t0
    landed = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    if landed != size:
        raise RuntimeError(f"boto3 stored {landed} bytes in {bucket}, sent {size}")
    return Sample(seconds, size, cpu.used)


def copy_probe(
    s3: Any, transfer: Any, weed: int | None, bucket: str, key: str, size: int
) -> Sample:
    """Server-side copy of `key`, as finalise does it (the portal's TransferConfig)."""
    prepare()
    target = key + ".copy"
    with Cpu(None, weed) as cpu:
        t0 = time.perf_counter()
        s3.copy(
            CopySource={"Bucket": bucket, "Key": key}, Bucket=bucket, Key=target, Config=transfer
        )
        seconds = time.perf_counter() - t0
    landed = int(s3.head_object(Bucket=bucket, Key=target)["ContentLength"])
    delete_all(s3, bucket, target)
    if landed != size:
        raise RuntimeError(f"copy gave {landed} bytes, expected {size}")
    return Sample(seconds, size, cpu.used)


def vary(path: Path, size: int) -> str:
    """New content for a new round (the portal skips the copy for a hash it already holds)."""
    with open(path, "r+b") as f:
        f.seek(size - TAIL)
        f.write(os.urandom(TAIL))
    digest = hashlib.sha256()
    for block in file_slice(path, 0, size):
        digest.update(block)
    return digest.hexdigest()


# --- report ------------------------------------------------------------------------------------


TUS_ROW = "tus via portal (Object Lock bucket)"
PLAIN_ROW = "boto3 upload_file (plain bucket)"
LOCK_ROW = "boto3 upload_file (Object Lock bucket)"
SERIAL_ROW = f"boto3, {PIPELINE} threads, portal part size (lock)"
COPY_ROW = "server-side copy, portal TransferConfig"


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def report(results: dict[str, list[Sample]], args: argparse.Namespace) -> bool:
    def med(name: str) -> float:
        return median([s.mbps for s in results[name]])

    tus, lock, plain = med(TUS_ROW), med(LOCK_ROW), med(PLAIN_ROW)
    t = Table(
        title=f"{args.size_mib} MiB uploads to SeaweedFS, {args.rounds} round(s), "
        f"tus PATCH {args.chunk_mib} MiB (MB = 10^6 B)"
    )
    for col in ("path", "MB/s per round", "median MB/s", "tus / this", "CPU % portal/weed/client"):
        t.add_column(col, justify="left" if col == "path" else "right", no_wrap=True)
    for name in (TUS_ROW, PLAIN_ROW, LOCK_ROW, SERIAL_ROW, COPY_ROW):
        samples = results[name]
        ratio = ""
        if name in (PLAIN_ROW, LOCK_ROW):
            r = tus / med(name)
            ratio = f"[{'green' if r >= RATIO_TARGET else 'red'}]{r:.2f}x[/]"
        cpu = "/".join(
            f"{median([s.cpu_pct(w) for s in samples]):.0f}" for w in ("portal", "weed", "client")
        )
        t.add_row(name, "/".join(f"{s.mbps:.0f}" for s in samples), f"{med(name):.1f}", ratio, cpu)
    console.print(t)

    # Where the portal's time goes (medians over rounds).
    tus_s = results[TUS_ROW]
    body = [p for s in tus_s for p in s.patches[:-1]]
    per_byte = sum(sec for _, sec in body) / sum(n for n, _ in body) if body else float("nan")
    last = median([s.patches[-1][1] for s in tus_s])
    last_body = median([s.patches[-1][0] * per_byte for s in tus_s])
    finalise = last - last_body
    total = median([s.seconds for s in tus_s])
    copy = median([s.seconds for s in results[COPY_ROW]])
    b = Table(title="tus upload: where the time goes (medians)")
    b.add_column("step", no_wrap=True)
    b.add_column("seconds", justify="right")
    b.add_column("share", justify="right")
    b.add_column("note")
    rows = [
        ("whole upload", total, "creation POST to last PATCH returned"),
        ("creation POST", median([s.create for s in tus_s]), ""),
        (
            f"PATCHes but the last ({len(tus_s[0].patches) - 1})",
            median([sum(sec for _, sec in s.patches[:-1]) for s in tus_s]),
            f"{1 / per_byte / MB:.1f} MB/s while streaming" if body else "",
        ),
        ("last PATCH", last, "its bytes + finalise"),
        ("  its bytes (est.)", last_body, "at the other PATCHes' rate"),
        ("  finalise (est.)", finalise, "complete MPU, copy, derive, retention, checkpoint"),
        ("    of which copy (probe)", copy, "standalone server-side copy, same size"),
    ]
    for step, sec, note in rows:
        b.add_row(step, f"{sec:.2f}", f"{100 * sec / total:.0f}%", note)
    console.print(b)
    growth = max(s.rss_growth for s in tus_s) / MiB
    console.print(f"portal RSS growth during an upload: max {growth:.1f} MiB")
    ok = tus / lock >= RATIO_TARGET
    console.print(
        f"tus/boto3 = {tus / lock:.2f}x (Object Lock bucket), {tus / plain:.2f}x (plain); "
        f"target >= {RATIO_TARGET}x: [{'green' if ok else 'red'}]{'met' if ok else 'missed'}[/]"
    )
    console.print(f"load average at the end: {load()} (other work on the machine skews MB/s)")
    return ok


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--size-mib", type=int, default=512, help="file size per upload (512)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    p.add_argument("--chunk-mib", type=int, default=64, help="tus PATCH size (64)")
    p.add_argument(
        "--warmup-mib",
        type=int,
        default=64,
        help="one uncounted upload of this size each way first; 0 skips (64)",
    )
    p.add_argument(
        "--timeout", type=float, default=300, help="per-request read/write timeout in seconds (300)"
    )
    p.add_argument(
        "--max-minutes", type=float, default=30, help="stop the whole run after this long (30)"
    )
    p.add_argument("--keep", action="store_true", help="keep the portal's folder (log, keys)")
    args = p.parse_args(argv)
    if min(args.size_mib, args.rounds, args.chunk_mib) < 1 or args.warmup_mib < 0:
        p.error("sizes and rounds must be positive")
    return args


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise BenchTimeout("the run went past --max-minutes; stopping")


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def portal_server(root: Path, seaweed: Seaweed, database_url: str, bucket: str) -> Server:
    """`portal serve` on PostgreSQL and the Object Lock bucket, as production runs it."""
    return tus_uvicorn(
        root,
        {
            **seaweed.env,
            "PORTAL_DATABASE_URL": database_url,
            "PORTAL_STORAGE_URL": f"s3://{bucket}/portal",
            "PORTAL_S3_ENDPOINT_URL": seaweed.endpoint_url,
        },
    )


def run(args: argparse.Namespace, root: Path, stack: contextlib.ExitStack) -> bool:
    console.print(f"[bold]machine[/bold]: {machine_info()}")
    console.print("starting SeaweedFS and PostgreSQL ...")
    seaweed = stack.enter_context(start_seaweed())
    pg = stack.enter_context(start_postgres())
    weed = weed_pid()
    s3 = seaweed.client()
    lock_bucket = seaweed.new_bucket(object_lock=True)
    plain_bucket = seaweed.new_bucket()
    # The portal's own TransferConfig for finalise's copy, whatever it is today.
    transfer = S3Storage(lock_bucket, endpoint_url=seaweed.endpoint_url)._transfer
    if not isinstance(transfer, TransferConfig):
        raise RuntimeError("S3Storage no longer keeps a TransferConfig in ._transfer")
    serial = TransferConfig(
        multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=PIPELINE
    )

    console.print("making the test file ...")
    head_path = root / "head.mp4"
    make_mp4(head_path)
    head = head_path.read_bytes()
    size = args.size_mib * MiB
    if size < len(head) + TAIL:
        raise SystemExit(f"--size-mib is too small for the MP4 header ({len(head)} bytes)")
    bench_file = root / "upload.mp4"
    make_file(bench_file, size, head)

    srv = portal_server(root, seaweed, fresh_database(pg), lock_bucket)
    stack.callback(srv.stop)
    srv.start()
    console.print(f"started the portal (pid {srv.pid}) on {srv.url}, storage s3://{lock_bucket}")

    client = stack.enter_context(httpx.Client(timeout=httpx.Timeout(args.timeout, connect=10)))
    chunk = args.chunk_mib * MiB

    def one_round(path: Path, n: int) -> dict[str, Sample]:
        sha = vary(path, n)
        out: dict[str, Sample] = {}
        sample, got = tus_upload(client, srv, weed, path, n, chunk)
        if got != sha:
            raise RuntimeError(f"portal SHA-256 {got} != file SHA-256 {sha}")
        out[TUS_ROW] = sample
        key = f"bench/{sha}"
        out[PLAIN_ROW] = boto3_upload(s3, weed, plain_bucket, key, path, n)
        delete_all(s3, plain_bucket, key)
        out[LOCK_ROW] = boto3_upload(s3, weed, lock_bucket, key, path, n)
        out[COPY_ROW] = copy_probe(s3, transfer, weed, lock_bucket, key, n)
        delete_all(s3, lock_bucket, key)
        # The portal's write pattern: PIPELINE parts in flight, PART_SIZE parts.
        out[SERIAL_ROW] = boto3_upload(s3, weed, lock_bucket, key, path, n, serial)
        delete_all(s3, lock_bucket, key)
        for name, s in out.items():
            extra = ""
            if s.patches:
                extra = f"  last PATCH {s.patches[-1][1]:.2f} s"
            console.print(f"  {name:<40} {s.seconds:6.2f} s {s.mbps:6.1f} MB/s{extra}")
        console.print("  sha256 ok")
        return out

    if args.warmup_mib:
        warm = min(args.warmup_mib * MiB, size)
        warm_file = root / "warmup.mp4"
        make_file(warm_file, warm, head)
        console.print(f"[bold]warm-up ({warm // MiB} MiB each way, not counted)[/bold]")
        one_round(warm_file, warm)
        warm_file.unlink()

    results: dict[str, list[Sample]] = {}
    for rnd in range(1, args.rounds + 1):
        console.print(f"[bold]round {rnd}/{args.rounds}[/bold] (load {load()})")
        for name, s in one_round(bench_file, size).items():
            results.setdefault(name, []).append(s)
    return report(results, args)


def main(argv: list[str] | None = None) -> int:
    return bounded_main(parse_args(argv), "s3-bench-", run)


if __name__ == "__main__":
    sys.exit(main())
