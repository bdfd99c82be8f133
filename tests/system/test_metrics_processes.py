"""Metrics across processes (issue 22): two `portal serve` processes on one data folder share
PROMETHEUS_MULTIPROC_DIR, and a scrape of either, taken while uploads run on both, shows the
counters of both moving."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import new_submission
from tests.support.servers import Server
from tests.support.uploads import upload

TOKEN = "scrape-token-for-the-test"
FINISHED = "portal_uploads_finished_total"


def finished(url: str) -> float:
    r = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 200, r.text
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            if sample.name == FINISHED:
                return float(sample.value)
    return 0.0


def test_a_scrape_sums_every_process_while_uploads_run(tmp_path: Path, video: Path) -> None:
    prom = tmp_path / "prom"
    prom.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(prom), "PORTAL_METRICS_TOKEN": TOKEN}
    data = tmp_path / "data"
    a = Server(data, env=env).start()
    b = Server(data, env=env).start()
    rounds = 3
    try:
        seen: list[float] = []

        def load() -> None:
            for server in (a, b) * rounds:
                with httpx.Client(base_url=server.url, timeout=60) as c:
                    _, token = new_submission(c)
                    upload(c, {"Authorization": f"Bearer {token}"}, video.read_bytes())

        worker = threading.Thread(target=load)
        worker.start()
        while worker.is_alive():
            seen.append(finished(a.url))
            worker.join(timeout=0.5)
        seen.append(finished(a.url))
        # Moving during the run, never backwards, and summing both processes at the end:
        # process A alone finished only half of them.
        assert seen == sorted(seen)
        assert len(set(seen)) > 2, seen
        assert seen[-1] == 2 * rounds
        assert finished(b.url) == 2 * rounds
    finally:
        a.stop()
        b.stop()
