"""`portal worker`: run derivation jobs (metadata, posters, playback proxies) in this process,
on this machine or another one that reaches the database and storage; registered in portal.cli.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from portal.config import Settings

console = Console()


def worker_command(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Overrides PORTAL_DATA_DIR.", show_default=False),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Run the jobs due now, then exit.")] = False,
) -> None:
    """Run jobs until stopped (SIGTERM or Ctrl-C). On PostgreSQL procrastinate brings them;
    on SQLite the worker polls the job table. Any number may run at once: each job is held
    by one worker, and a killed worker's job is taken over when its lease runs out."""
    from portal.app import build_runtime
    from portal.flows import jobs
    from portal.jobs import queue

    rt = build_runtime(Settings(data_dir=data_dir) if data_dir else Settings())
    if once:
        console.print(f"ran {jobs.run_due(rt)} jobs")
        return
    stop = threading.Event()
    url = rt.settings.resolved_database_url
    if not queue.is_postgres(url):
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        console.print("worker polling the job table")
        jobs.work(rt, stop)
        return
    app = queue.worker_app(url)
    worker = jobs.worker_name()

    @app.task(name=queue.TASK)
    def run_job(job_id: str) -> None:
        jobs.run_job(rt, job_id, worker=worker)

    # Deliveries lost with a killed worker (its job's lease ran out) are made again.
    sweep = threading.Thread(
        target=jobs.work, args=(rt, stop), kwargs={"deliver_only": True}, daemon=True
    )
    sweep.start()
    console.print("worker listening on the procrastinate queue")
    try:
        app.run_worker(name=worker)
    finally:
        stop.set()
