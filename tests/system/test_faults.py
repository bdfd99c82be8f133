"""Fault injection: clients and servers SIGKILLed at random points, then restarted and resumed.

Every upload is a real client process (tests/support/tus_client.py) against a real `portal serve`.
Client kills land at a random byte (a random delay after the chunk holding it goes on the
wire); server kills land either at a random time (mid-PATCH, or around the last PATCH and its
finalise) or deterministically at a fault point (tests/support/faultpoints.py: the PATCH commit,
before and after the move to `sha256/<hex>`, a custody append, the evidence insert, the
receipt follow-up, the poster store). After each kill the server is restarted and the
interrupted client resumes from HEAD, knowing only the upload URL it saved.

Afterwards, for the whole run: no acknowledged offset ever went backwards, every file is
stored byte for byte (SHA-256 read back through storage) with exactly one evidence row and
every upload row completed, `portal custody verify` passes and `portal storage reconcile`
finds no orphaned or missing object.

The default is the short run, part of every test run: 10 client kills (3 on PostgreSQL + S3)
and one server kill of each kind. The long run (docs/testing.md, "Fault injection"):

    .venv/bin/python -m pytest tests/system/test_faults.py \\
        --fault-uploads 100 --fault-server-kills 20

A run prints its seed and a failure names it; `--fault-seed N` replays the same plan (files,
kill bytes, delays, fault points; where a timed kill lands still depends on timing).
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from portal.app import build_runtime
from portal.config import Settings
from portal.evidence.models import Derivative, Evidence
from portal.runtime import Runtime
from portal.uploads.models import Upload
from tests.support import REPO
from tests.support.api import new_submission
from tests.support.faultpoints import POINTS
from tests.support.servers import Server
from tests.support.tus_client import SERVER_GONE
from tests.support.uploads import create_upload, padded, upload

KiB, MiB = 1024, 1024 * 1024
RANDOM_KINDS = ("mid_patch", "last_patch")
KINDS = (*RANDOM_KINDS, *POINTS)
# Fault points reached after the witness's final PATCH is answered (the media work).
AFTER_ANSWER = ("poster_put",)
CHUNKS = (64 * KiB, 256 * KiB, 1 * MiB, 3 * MiB)
# Bounds on every wait and loop: a hang is a failure, never a stuck run.
WAIT = 60.0
CLIENT_RUN = 180.0
UPLOADS_PER_FAULT = 3  # every point is hit at least once per new upload; N is at most this
LEASE = "2"  # seconds: a PATCH killed with the server holds its lease this long


@dataclass
class Item:
    """One file of the run and what happened to it."""

    label: str
    path: Path
    size: int
    sha256: str
    submission: str
    token: str
    state: Path
    chunk: int
    checksum: bool
    story: list[str] = field(default_factory=list)

    def journal(self) -> list[dict[str, Any]]:
        path = self.state / "acks.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def url_saved(self) -> bool:
        return (self.state / "url").exists()


@dataclass
class Run:
    seed: int
    rng: random.Random
    root: Path
    video: Path
    server: Server
    settings: Settings
    items: list[Item] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def note(self, item: Item, text: str) -> None:
        item.story.append(text)
        with open(self.root / "faults.log", "a") as log:
            log.write(f"{time.monotonic() - self.started:7.1f} s {item.label}: {text}\n")

    def fail(self, text: str) -> str:
        return f"{text} (seed {self.seed}; replay with --fault-seed {self.seed}; {self.root})"


def server_env(settings: Settings) -> dict[str, str]:
    env = {"PORTAL_UPLOAD_LOCK_LEASE": LEASE}
    if settings.database_url:
        env["PORTAL_DATABASE_URL"] = settings.database_url
    if settings.storage_url:
        env["PORTAL_STORAGE_URL"] = settings.storage_url
    if settings.s3_endpoint_url:
        env["PORTAL_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    return env


def wait_until(check: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.005)
    return False


def new_item(run: Run, label: str) -> Item:
    rng = run.rng
    size = rng.randrange(run.video.stat().st_size + 64 * KiB, 4 * MiB)
    path = run.root / "files" / f"{label}.mp4"
    path.parent.mkdir(exist_ok=True)
    data = padded(run.video, size, rng)
    path.write_bytes(data)
    with httpx.Client(base_url=run.server.url, timeout=30) as http:
        sub_id, token = new_submission(http)
    item = Item(
        label=label,
        path=path,
        size=size,
        sha256=hashlib.sha256(data).hexdigest(),
        submission=sub_id,
        token=token,
        state=run.root / "clients" / label,
        chunk=rng.choice(CHUNKS),
        checksum=rng.random() < 0.3,
    )
    run.items.append(item)
    run.note(item, f"{size} bytes in {item.chunk}-byte PATCHes, checksum={item.checksum}")
    return item


def start_client(run: Run, item: Item) -> subprocess.Popen[bytes]:
    item.state.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "tests.support.tus_client", run.server.url, item.token]
    args += [str(item.path), str(item.state), "--chunk", str(item.chunk)]
    if item.checksum:
        args.append("--checksum")
    with open(item.state / "client.log", "ab") as log:
        return subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def wait_client(run: Run, item: Item, proc: subprocess.Popen[bytes]) -> int:
    try:
        return proc.wait(CLIENT_RUN)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(run.fail(f"{item.label}: client ran past {CLIENT_RUN} s")) from None


def complete(run: Run, item: Item) -> None:
    """A fresh client that knows only the saved upload URL finishes the upload."""
    code = wait_client(run, item, start_client(run, item))
    tail = item.journal()[-3:]
    assert code == 0, run.fail(f"{item.label}: resuming client exited {code}: {tail}")
    run.note(item, "resumed from HEAD and completed")


def reaches_byte(item: Item, byte: int) -> Callable[[], bool]:
    """True once the chunk holding `byte` is on the wire (or acknowledged past it)."""

    def check() -> bool:
        for e in item.journal():
            if e["event"] == "sending" and e["offset"] <= byte < e["end"]:
                return True
            if e["event"] in ("ack", "done") and e["offset"] > byte:
                return True
        return False

    return check


def kill_client_at_random(run: Run, item: Item) -> None:
    byte = run.rng.randrange(item.size)
    delay = run.rng.uniform(0, 0.03)
    proc = start_client(run, item)
    reached = wait_until(
        lambda: proc.poll() is not None or (item.url_saved() and reaches_byte(item, byte)())
    )
    assert reached, run.fail(f"{item.label}: client never reached byte {byte}")
    time.sleep(delay)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        run.note(item, f"client SIGKILLed at byte {byte} + {delay * 1000:.0f} ms")
        run.kills["client"] = run.kills.get("client", 0) + 1
    else:
        run.note(item, f"client finished (exit {proc.returncode}) before its kill at byte {byte}")
    complete(run, item)


def kill_server_at_random(run: Run, kind: str, pending: Item | None) -> Item:
    """Kill the server at a random moment of a new upload; returns it, to resume later."""
    server = run.server
    if not server.alive():
        server.start()
    if pending is not None:
        complete(run, pending)
    item = new_item(run, f"server-{len(run.items)}-{kind}")
    if kind == "mid_patch":
        byte = run.rng.randrange(item.size)
        trigger = reaches_byte(item, byte)
        delay = run.rng.uniform(0, 0.03)
        what = f"server SIGKILLed mid-PATCH at byte {byte} + {delay * 1000:.0f} ms"
    else:  # the last PATCH goes out: kill in it, in finalise or in the receipt follow-up
        trigger = reaches_byte(item, item.size - 1)
        delay = run.rng.uniform(0, 0.08)
        what = f"server SIGKILLed {delay * 1000:.0f} ms after the last PATCH went out"
    proc = start_client(run, item)
    assert wait_until(lambda: proc.poll() is not None or trigger()), run.fail(
        f"{item.label}: client never reached its kill point"
    )
    time.sleep(delay)
    server.kill()
    code = wait_client(run, item, proc)
    assert code in (0, SERVER_GONE), run.fail(f"{item.label}: client exited {code}")
    run.note(item, f"{what} (client exit {code})")
    return item


def kill_server_at_point(run: Run, kind: str, pending: Item | None) -> Item | None:
    """Restart the server armed with a fault point, then upload (the interrupted upload
    first) until it fires; returns the upload it interrupted (None when it fired after the
    upload was acknowledged)."""
    server = run.server
    nth = run.rng.randint(1, UPLOADS_PER_FAULT)
    armed = f"{kind} #{nth}"
    if server.alive():
        server.stop()
    server.start(fault=(kind, nth))
    items = [pending] if pending is not None else []
    for n in range(UPLOADS_PER_FAULT + len(items)):
        item = items[n] if n < len(items) else new_item(run, f"server-{len(run.items)}-{kind}")
        code = wait_client(run, item, start_client(run, item))
        if code == 0:
            run.note(item, f"completed on a server armed with {armed}")
            if kind in AFTER_ANSWER and wait_until(lambda: not server.alive(), 10):
                run.note(item, f"server SIGKILLed itself at fault point {armed}, after the ack")
                return None
            continue
        assert code == SERVER_GONE, run.fail(f"{item.label}: client exited {code}")
        assert wait_until(lambda: not server.alive(), 10), run.fail(
            f"{item.label}: client lost the server but it is still running"
        )
        run.note(item, f"server SIGKILLed itself at fault point {armed}")
        return item
    raise AssertionError(run.fail(f"fault point {armed} was never reached"))


def server_kills(run: Run, count: int) -> Iterator[str]:
    """Every kind once per round (random order); the last round is cut short."""
    done = 0
    while done < count:
        kinds = list(KINDS)
        run.rng.shuffle(kinds)
        for kind in kinds[: count - done]:
            yield kind
            done += 1


def check_acknowledged_offsets(run: Run, item: Item) -> None:
    """Across every client run, an acknowledged offset never goes backwards; ends at size."""
    highest = 0
    acks = [e for e in item.journal() if e["event"] == "ack"]
    for e in acks:
        assert e["offset"] >= highest, run.fail(
            f"{item.label}: offset {highest} was acknowledged, later {e['offset']} ({e['via']})"
        )
        highest = e["offset"]
    assert highest == item.size, run.fail(f"{item.label}: last acknowledged offset {highest}")


def check_stored(run: Run, rt: Runtime) -> None:
    by_submission = {item.submission: item for item in run.items}
    with rt.sessions() as db:
        evidence = list(db.scalars(select(Evidence)))
        rows = db.execute(select(Upload.status, func.count()).group_by(Upload.status))
        statuses = {status: count for status, count in rows}
    assert statuses == {"completed": len(run.items)}, run.fail(f"upload rows: {statuses}")
    assert sorted(e.submission_id for e in evidence) == sorted(by_submission), run.fail(
        "not exactly one evidence row per upload"
    )
    for e in evidence:
        item = by_submission[e.submission_id]
        assert (e.sha256, e.size, e.storage_key) == (
            item.sha256,
            item.size,
            f"sha256/{item.sha256}",
        ), run.fail(f"{item.label}: evidence row {e.id}")
        stored = hashlib.sha256()
        for block in rt.storage.read(e.storage_key):
            stored.update(block)
        assert stored.hexdigest() == item.sha256, run.fail(f"{item.label}: stored bytes differ")


def portal_cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal", *args, "--data-dir", str(server.data_dir)],
        cwd=REPO,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def check_run(run: Run) -> None:
    for item in run.items:
        check_acknowledged_offsets(run, item)
    rt = build_runtime(run.settings)
    try:
        check_stored(run, rt)
    finally:
        rt.engine.dispose()
    verify = portal_cli(run.server, "custody", "verify")
    assert verify.returncode == 0, run.fail(f"custody verify:\n{verify.stdout}{verify.stderr}")
    found = reconcile(run.server)
    assert (found["orphans"], found["missing"]) == ([], []), run.fail(f"reconcile: {found}")


def reconcile(server: Server) -> dict[str, list[dict[str, Any]]]:
    """`portal storage reconcile --json`; it exits 1 when it reports anything."""
    done = portal_cli(server, "storage", "reconcile", "--json")
    assert done.returncode in (0, 1) and done.stdout, done.stderr
    found: dict[str, list[dict[str, Any]]] = json.loads(done.stdout)
    assert (done.returncode == 0) == (found["orphans"] == found["missing"] == []), found
    return found


@pytest.mark.both_backends
def test_uploads_survive_killed_clients_and_servers(
    request: pytest.FixtureRequest, settings: Settings, backend: str, video: Path, tmp_path: Path
) -> None:
    option = request.config.getoption
    seed = option("fault_seed")
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    uploads = option("fault_uploads")
    if uploads is None:  # the short run; the scale-out pair restarts slower
        uploads = 10 if backend == "sqlite-local" else 3
    kills = option("fault_server_kills")
    kills = len(KINDS) if kills is None else kills
    server = Server(settings.data_dir, env=server_env(settings)).start()
    run = Run(seed, random.Random(seed), tmp_path, video, server, settings)
    try:
        for i in range(uploads):
            kill_client_at_random(run, new_item(run, f"client-{i}"))
        # After each kill the next step restarts the server (armed, for a fault point) and
        # resumes the interrupted upload before anything else.
        pending: Item | None = None
        for kind in server_kills(run, kills):
            kill = kill_server_at_random if kind in RANDOM_KINDS else kill_server_at_point
            pending = kill(run, kind, pending)
            run.kills[kind] = run.kills.get(kind, 0) + 1
        # A start finishes what the last kill cut short (the pending upload's media work too).
        if not server.alive():
            server.start()
        if pending is not None:
            complete(run, pending)
    finally:
        server.stop()
    check_run(run)
    print(
        f"\nfault injection, seed {seed}: {len(run.items)} uploads, kills {run.kills}, "
        f"{time.monotonic() - run.started:.0f} s, all checks passed"
    )


def test_server_killed_while_creating_an_upload_leaves_nothing_behind(settings: Settings) -> None:
    """Regression: the partial was made before the upload row committed, so a crash in
    between left a partial that no row names (an orphan only a repair would remove)."""
    server = Server(settings.data_dir, env=server_env(settings))
    server.start(fault=("custody_append", 1))  # the first upload event: upload.created
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            _, token = new_submission(http)
            with pytest.raises(httpx.TransportError):
                create_upload(http, {"Authorization": f"Bearer {token}"}, 1000)
        assert wait_until(lambda: not server.alive(), 10)
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as http:
            url = create_upload(http, {"Authorization": f"Bearer {token}"}, 1000)
    finally:
        server.stop()
    found = reconcile(server)
    assert (found["orphans"], found["missing"]) == ([], [])
    # The retried creation is the only upload on record.
    rt = build_runtime(settings)
    try:
        with rt.sessions() as db:
            assert list(db.scalars(select(Upload.id))) == [url.rsplit("/", 1)[1]]
    finally:
        rt.engine.dispose()


@pytest.mark.parametrize("point", ["after_receipt", "poster_put"])
def test_receipt_follow_up_cut_short_is_finished_on_restart(
    settings: Settings, video: Path, point: str
) -> None:
    """Regression: a crash after finalise committed left the item without metadata or poster
    for good, and one after the poster was stored left it without a row (an orphan)."""
    server = Server(settings.data_dir, env=server_env(settings))
    server.start(fault=(point, 1))
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            _, token = new_submission(http)
            auth = {"Authorization": f"Bearer {token}"}
            if point in AFTER_ANSWER:  # acknowledged first; the media work runs after
                upload(http, auth, video.read_bytes())
            else:
                with pytest.raises(httpx.TransportError):
                    upload(http, auth, video.read_bytes())
        assert wait_until(lambda: not server.alive(), 10)
        server.start()
    finally:
        server.stop()
    found = reconcile(server)
    assert (found["orphans"], found["missing"]) == ([], [])
    rt = build_runtime(settings)
    try:
        with rt.sessions() as db:
            [item] = db.scalars(select(Evidence))
            assert item.media_info is not None and "error" not in item.media_info
            assert item.retention_category is not None
            assert item.thumbnail_key is not None
            poster = db.get(Derivative, item.thumbnail_key)
            assert poster is not None
        stored = b"".join(rt.storage.read(item.thumbnail_key))
        assert poster.sha256 == hashlib.sha256(stored).hexdigest()
    finally:
        rt.engine.dispose()
