"""Custody log benchmark: append rate, then a large log's full audit and its proofs.

Not a test. Everything runs in-process on SQLite in temporary folders (the portal's own
engine: WAL, synchronous=FULL, BEGIN IMMEDIATE), removed afterwards.

    python bench/custody_bench.py                   # 1,000,000 events
    python bench/custody_bench.py --events 20000    # smoke run

(a) append rate through `portal.custody.service.append`: each append in its own committed
    transaction, and batched (--batch appends per transaction);
(b) a log of --events events, built through the real `append` path when the measured batched
    rate allows it within --append-budget seconds, else by bulk inserts of canonical events,
    the nodes `merkle.nodes_for_append` computes and checkpoints signed every
    --checkpoint-every events (the output says which); then the full audit
    `audit_log_and_content(check_content=False)` on it, the median `service.inclusion` time
    over random leaves at the full size, and consistency proofs from random earlier sizes.

Targets at 1,000,000 events: the audit < 10 s; median inclusion proof < 5 ms.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:
    import portal  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import insert, update

from portal.app import build_runtime
from portal.config import Settings
from portal.custody import merkle, note
from portal.custody import service as custody
from portal.custody.audit.worker import PARALLEL_FROM
from portal.custody.events import EventType
from portal.custody.models import Checkpoint, LogEntry, LogHead, LogNode
from portal.custody.offline import canonical_json
from portal.db import transaction
from portal.flows.content_audit import audit_log_and_content
from portal.runtime import Runtime

VERIFY_TARGET_S = 10.0
INCLUSION_TARGET_MS = 5.0
START = datetime(2025, 1, 1, tzinfo=UTC)

console = Console(width=None if sys.stdout.isatty() else 120)


def runtime_in(folder: Path) -> Runtime:
    return build_runtime(Settings(data_dir=folder / "data"))


# --- event content -------------------------------------------------------------------------


def _hex(i: int, salt: str) -> str:
    return f"{salt}{i:x}".encode().hex()[:32].ljust(32, "0")


def sample_event(i: int) -> tuple[EventType, str, str, dict[str, Any]]:
    """(type, actor, subject, details) shaped like the portal's own events."""
    sub = _hex(i // 5, "s")
    actor = custody.witness_actor(sub)
    kind = i % 5
    if kind == 0:
        return (
            EventType.CONSENT_GIVEN,
            actor,
            sub,
            {
                "version": "1",
                "sha256": "9" * 64,
                "scopes": ["investigation", "prosecution"],
                "language": "es",
            },
        )
    if kind == 1:
        return (
            EventType.SUBMISSION_CREATED,
            actor,
            sub,
            {"with_contact": False, "request": None},
        )
    upload = _hex(i // 5, "u")
    if kind == 2:
        return (
            EventType.UPLOAD_CREATED,
            actor,
            sub,
            {"upload": upload, "name_commitment": f"{i:064x}", "length": 2_000_000 + i},
        )
    sha = f"{i:064x}"
    if kind == 3:
        return (
            EventType.UPLOAD_COMPLETED,
            actor,
            sub,
            {
                "upload": upload,
                "name_commitment": f"{i:064x}",
                "size": 2_000_000 + i,
                "sha256": sha,
                "media_type": "video/mp4",
            },
        )
    return (
        EventType.EVIDENCE_RECEIVED,
        actor,
        _hex(i // 5, "e"),
        {
            "submission": sub,
            "sha256": sha,
            "size": 2_000_000 + i,
            "media_type": "video/mp4",
            "storage_key": f"sha256/{sha}",
        },
    )


# --- (a) append rate -------------------------------------------------------------------------


def append_rate(rt: Runtime, count: int, per_tx: int) -> float:
    """Events per second through service.append, `per_tx` appends per committed transaction."""
    start = time.perf_counter()
    done = 0
    while done < count:
        with transaction(rt.sessions) as db:
            for _ in range(min(per_tx, count - done)):
                typ, actor, subject, details = sample_event(done)
                custody.append(
                    db, type=typ, actor=actor, subject=subject, details=details, at=rt.clock()
                )
                done += 1
    return count / (time.perf_counter() - start)


# --- (b) building a large log ----------------------------------------------------------------


def build_with_append(
    rt: Runtime, n: int, per_tx: int, checkpoint_every: int, advance: Callable[[int], None]
) -> None:
    """The production path: service.append, and Runtime.sign_checkpoint now and then."""
    rt.sign_checkpoint()  # as create_app does on an empty log
    done, next_checkpoint = 1, checkpoint_every
    while done < n - 1:
        with transaction(rt.sessions) as db:
            for _ in range(min(per_tx, n - 1 - done)):
                typ, actor, subject, details = sample_event(done)
                at = START + timedelta(milliseconds=done)
                custody.append(db, type=typ, actor=actor, subject=subject, details=details, at=at)
                done += 1
        if next_checkpoint <= done < n - 1:
            rt.sign_checkpoint()  # appends the event that records the signing
            done += 1
            next_checkpoint += checkpoint_every
        advance(done)
    rt.sign_checkpoint()


def build_bulk(
    rt: Runtime, n: int, per_tx: int, checkpoint_every: int, advance: Callable[[int], None]
) -> None:
    """The same log as the append path writes, by bulk INSERTs.

    Events are canonical JSON of the same shape; nodes come from merkle.nodes_for_append;
    at sizes 0, every `checkpoint_every` and n - 1 a checkpoint is signed with the runtime's
    key, and the event at that seq records its signing, as service.sign_checkpoint does.
    """
    origin, signer = rt.settings.log_origin, rt.log_signer
    cr = merkle.CompactRange()
    frontier: dict[merkle.NodeId, bytes] = {}
    start = 0
    while start < n:
        stop = min(n, start + per_tx)
        entries: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        checkpoints: list[dict[str, Any]] = []
        for seq in range(start, stop):
            at = START + timedelta(milliseconds=seq)
            if seq % checkpoint_every == 0 or seq == n - 1:
                root = cr.root()
                text = note.format_checkpoint(origin, seq, root)
                checkpoints.append(
                    {"size": seq, "root": root, "note": note.sign(text, signer), "signed_at": at}
                )
                typ, actor, subject = EventType.LOG_CHECKPOINT_SIGNED, custody.SYSTEM, "log"
                details: dict[str, Any] = {
                    "size": seq,
                    "root": base64.b64encode(root).decode(),
                }
            else:
                typ, actor, subject, details = sample_event(seq)
            data = canonical_json(
                {
                    "seq": seq,
                    "at": custody.rfc3339(at),
                    "type": str(typ),
                    "actor": actor,
                    "subject": subject,
                    "details": details,
                }
            )
            leaf = merkle.leaf_hash(data)
            entries.append(
                {
                    "seq": seq,
                    "at": at,
                    "type": str(typ),
                    "subject": subject,
                    "event": data,
                    "leaf_hash": leaf,
                }
            )
            for level, index, digest in merkle.nodes_for_append(seq, leaf, frontier):
                if index & 1:
                    del frontier[(level, index - 1)]
                else:
                    frontier[(level, index)] = digest
                nodes.append({"level": level, "index": index, "hash": digest})
            cr.append(leaf)
        with transaction(rt.sessions) as db:
            db.execute(insert(LogEntry), entries)
            db.execute(insert(LogNode), nodes)
            if checkpoints:
                db.execute(insert(Checkpoint), checkpoints)
            db.execute(update(LogHead).where(LogHead.id == 1).values(size=stop))
        start = stop
        advance(stop)


@contextmanager
def bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)


# --- (b) audit and proofs --------------------------------------------------------------------


def timed_verify(rt: Runtime) -> tuple[float, float, bool, str]:
    """(wall s, CPU s, passed, report) of audit_log_and_content(check_content=False)."""
    with Progress(
        TextColumn("audit {task.fields[phase]}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def show(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task("", total=total, phase=phase)
            progress.update(tasks[phase], completed=done, total=total)

        with rt.sessions() as db:
            start, cpu = time.perf_counter(), time.process_time()
            report = audit_log_and_content(
                db,
                rt.storage,
                verifier_key=rt.log_verifier,
                origin=rt.settings.log_origin,
                check_content=False,
                progress=show,
            )
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, cpu, report.ok, report.text()


def timed_proofs(rt: Runtime, n: int, samples: int, rng: random.Random) -> dict[str, float]:
    with rt.sessions() as db:
        get = custody.node_fetcher(db)
        root = merkle.root(n, get)
        leaves = {}
        incl: list[float] = []
        for index in rng.sample(range(n), min(samples, n)):
            start = time.perf_counter()
            proof = custody.inclusion(db, index=index, size=n)
            incl.append(time.perf_counter() - start)
            leaves[index] = custody.entry(db, seq=index).leaf_hash
            merkle.verify_inclusion(leaves[index], index, n, proof, root)
        cons: list[float] = []
        for old in rng.sample(range(1, n), min(max(samples // 4, 1), n - 1)):
            start = time.perf_counter()
            proof = merkle.consistency_proof(old, n, get)
            cons.append(time.perf_counter() - start)
            merkle.verify_consistency(old, n, proof, merkle.root(old, get), root)
        start = time.perf_counter()
        merkle.root(n, get)
        root_s = time.perf_counter() - start
    return {
        "inclusion_median_ms": statistics.median(incl) * 1e3,
        "inclusion_p95_ms": statistics.quantiles(incl, n=20)[-1] * 1e3
        if len(incl) > 1
        else incl[0] * 1e3,
        "inclusion_samples": float(len(incl)),
        "consistency_median_ms": statistics.median(cons) * 1e3,
        "consistency_samples": float(len(cons)),
        "root_ms": root_s * 1e3,
    }


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=1_000_000, help="size of the large log")
    p.add_argument("--single", type=int, default=500, help="appends measured one per transaction")
    p.add_argument(
        "--batched", type=int, default=20_000, help="appends measured in batched transactions"
    )
    p.add_argument("--batch", type=int, default=1_000, help="appends per batched transaction")
    p.add_argument("--checkpoint-every", type=int, default=10_000)
    p.add_argument("--samples", type=int, default=200, help="random inclusion proofs timed")
    p.add_argument(
        "--build",
        choices=["auto", "append", "bulk"],
        default="auto",
        help="how to build the large log (auto: append path if it fits --append-budget)",
    )
    p.add_argument("--append-budget", type=float, default=120.0, help="seconds")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.events < 2:
        p.error("--events must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    console.print(
        f"[bold]custody log benchmark[/]  Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL)"
    )
    rates = Table(title="(a) append rate, service.append on SQLite")
    rates.add_column("mode")
    rates.add_column("events", justify="right")
    rates.add_column("events/s", justify="right")
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as tmp:
        rt = runtime_in(Path(tmp))
        try:
            single = append_rate(rt, args.single, 1)
            rates.add_row(
                "one committed transaction per append", f"{args.single:,}", f"{single:,.0f}"
            )
            batched = append_rate(rt, args.batched, args.batch)
            rates.add_row(
                f"{args.batch:,} appends per transaction", f"{args.batched:,}", f"{batched:,.0f}"
            )
        finally:
            rt.engine.dispose()
    console.print(rates)

    n = args.events
    estimate = n / batched
    method = args.build
    if method == "auto":
        method = "append" if estimate <= args.append_budget else "bulk"
    why = (
        f"the append path would take ~{estimate:,.0f} s at {batched:,.0f} events/s"
        if args.build == "auto"
        else "chosen with --build"
    )
    console.print(
        f"\n(b) building a {n:,}-event log by "
        + (
            "batched service.append calls"
            if method == "append"
            else "bulk INSERTs (canonical events, merkle.nodes_for_append nodes, signed "
            "checkpoints)"
        )
        + f": {why}"
    )
    results = Table(title=f"(b) a {n:,}-event log")
    results.add_column("measure")
    results.add_column("value", justify="right")
    results.add_column("target", justify="right")
    ok = True
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as tmp:
        rt = runtime_in(Path(tmp))
        try:
            start = time.perf_counter()
            build = build_with_append if method == "append" else build_bulk
            with bar(f"building ({method})", n) as advance:
                build(
                    rt,
                    n,
                    args.batch if method == "append" else 50_000,
                    args.checkpoint_every,
                    advance,
                )
            built_s = time.perf_counter() - start
            with rt.sessions() as db:
                size = custody.tree_size(db)
            results.add_row(f"build ({method})", f"{built_s:,.1f} s", "")
            results.add_row("log size", f"{size:,}", "")

            load_before = os.getloadavg()[0]
            verify_s, verify_cpu, verified, text = timed_verify(rt)
            ok &= verified and verify_s < VERIFY_TARGET_S
            worker = " + JSON worker process" if size >= PARALLEL_FROM else ""
            results.add_row(
                f"audit_log_and_content(check_content=False){worker}",
                f"{verify_s:,.2f} s ({size / verify_s:,.0f} events/s; this process's CPU "
                f"{verify_cpu:,.2f} s; "
                f"load avg before {load_before:.1f})" + ("" if verified else " FAILED"),
                f"< {VERIFY_TARGET_S:g} s",
            )
            proofs = timed_proofs(rt, size, args.samples, rng)
            ok &= proofs["inclusion_median_ms"] < INCLUSION_TARGET_MS
            results.add_row(
                f"service.inclusion median, {proofs['inclusion_samples']:.0f} random leaves",
                f"{proofs['inclusion_median_ms']:.2f} ms (p95 {proofs['inclusion_p95_ms']:.2f})",
                f"< {INCLUSION_TARGET_MS:g} ms",
            )
            results.add_row(
                f"consistency_proof median, {proofs['consistency_samples']:.0f} random sizes",
                f"{proofs['consistency_median_ms']:.2f} ms",
                "",
            )
            results.add_row("merkle.root at full size", f"{proofs['root_ms']:.2f} ms", "")
        finally:
            rt.engine.dispose()
    console.print(results)
    if not verified:
        console.print(text)
    console.print("[green]targets met[/]" if ok else "[red]targets missed[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
