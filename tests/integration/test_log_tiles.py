"""The custody log outside the database: tiles in storage, served publicly, read by Go's
sumdb/tlog; a database restored from an older backup refused, then recovered."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from portal.app import build_runtime, create_app
from portal.cli import app as cli
from portal.config import Settings
from portal.custody import merkle, monitor, note, remote, tiles
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.custody.models import LogEntry
from portal.custody.receipt import verify_receipt
from portal.db import transaction
from portal.evidence.models import Evidence
from portal.storage import ObjectLocked
from portal.submissions.models import Consent, Submission, SubmissionState
from tests.support.api import CONSENT, new_submission, runtime, staff_login
from tests.support.servers import Server
from tests.support.uploads import upload

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2030, 1, 1, tzinfo=UTC)
runner = CliRunner()


def reader(
    client: TestClient | httpx.Client, headers: dict[str, str] | None = None
) -> tiles.TileReader:
    def fetch(path: str) -> bytes:
        r = client.get(f"/api/v1/log/{path}", headers=headers or {})
        if r.status_code == 404:
            raise FileNotFoundError(path)
        r.raise_for_status()
        return r.content

    return tiles.TileReader(fetch)


def verifier(client: TestClient | httpx.Client) -> str:
    return client.get("/api/v1/log/public-key").text.strip()


@pytest.mark.both_backends
def test_served_tiles_prove_inclusion_and_consistency(client: TestClient, video: Path) -> None:
    key = verifier(client)
    _, token = new_submission(client)
    runtime(client).sign_checkpoint()
    first = reader(client).checkpoint(key)
    upload(client, {"Authorization": f"Bearer {token}"}, video.read_bytes())
    r = client.get("/api/v1/log/checkpoint")
    assert r.headers["cache-control"] == "public, max-age=5"
    cp = reader(client).checkpoint(key)
    assert cp.size > first.size
    tiles_ = reader(client)
    for index in range(cp.size):
        tiles_.inclusion_proof(index, cp)
    tiles_.consistency_proof(first, cp)
    partial = client.get(f"/api/v1/log/tile/0/000.p/{cp.size}")
    assert partial.status_code == 200
    assert len(partial.content) == 32 * cp.size
    assert "immutable" not in partial.headers["cache-control"]


@pytest.mark.both_backends
def test_entry_bundles_are_for_auditors_only(client: TestClient) -> None:
    new_submission(client)
    runtime(client).sign_checkpoint()
    cp = reader(client).checkpoint(verifier(client))
    path = f"/api/v1/log/tile/entries/000.p/{cp.size}"
    assert client.get(path).status_code == 401
    inv = staff_login(client, "investigator")
    assert client.get(path, headers=inv).status_code == 403
    auditor = staff_login(client, "auditor")
    r = client.get(path, headers=auditor)
    assert r.status_code == 200
    events = [json.loads(e) for e in tiles.parse_entry_bundle(r.content, cp.size)]
    assert [e["seq"] for e in events] == list(range(cp.size))
    assert list(reader(client, auditor).entries(cp))


@pytest.mark.both_backends
@pytest.mark.parametrize(
    "path",
    ["tile/0/999", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/0", "tile/x/000", "tile/entries"],
)
def test_a_bad_or_absent_tile_is_a_json_404(client: TestClient, path: str) -> None:
    r = client.get(f"/api/v1/log/{path}")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


@pytest.mark.both_backends
def test_stored_tiles_and_checkpoints_are_write_once_and_locked(client: TestClient) -> None:
    new_submission(client)
    rt = runtime(client)
    rt.sign_checkpoint()
    keys = list(rt.storage.list_keys("log/"))
    assert any(k.startswith("log/checkpoints/") for k in keys)
    assert any(k.startswith("log/tile/0/") for k in keys)
    for key in keys:
        with pytest.raises(ObjectLocked):
            rt.storage.delete(key)


def test_tiles_verify_with_go_sumdb_tlog(tmp_path: Path) -> None:
    """An independent tlog-tiles implementation (golang.org/x/mod/sumdb/tlog) reads the
    served tiles: full and partial, at levels 0 and 1, checked against the signed root."""
    settings = Settings(data_dir=tmp_path / "data")
    rt = build_runtime(settings)
    rt.check_log()

    def grow(n: int) -> note.Checkpoint:
        with transaction(rt.sessions) as db:
            for i in range(n):
                custody.append(
                    db,
                    type=EventType.LOG_VERIFIED,
                    actor=custody.SYSTEM,
                    subject="log",
                    details={"n": i},
                    at=rt.clock(),
                )
        cp = rt.sign_checkpoint()
        return note.Checkpoint("", cp.size, cp.root)

    old = grow(300)
    grow(400)
    rt.engine.dispose()
    binary = tmp_path / "tlogcheck"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": "/usr/share/gocode",
        "GOFLAGS": "",
        "GOCACHE": str(tmp_path / "gocache"),
    }
    subprocess.run(
        ["go", "build", "-o", str(binary), "tests/interop/tlogcheck/main.go"],
        cwd=REPO,
        env=env,
        check=True,
    )
    srv = Server(settings.data_dir).start()
    try:
        with httpx.Client(base_url=srv.url) as http:
            key = verifier(http)
        args = [str(binary), f"{srv.url}/api/v1/log", key, str(old.size)]
        root = base64.b64encode(old.root).decode()
        out = subprocess.run(
            [*args, root, "0", "255", "256", "299", "600"], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("ok ")
        assert int(out.stdout.split()[1]) > 700
        forged = base64.b64encode(merkle.leaf_hash(b"forged")).decode()
        out = subprocess.run([*args, forged, "0"], capture_output=True, text=True)
        assert out.returncode != 0
        assert "consistency" in out.stderr
    finally:
        srv.stop()


# --- the restore scenario (issue 15) ---------------------------------------------------


@pytest.fixture
def data(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def portal(data: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(data)) as c:
        yield c


def _db_file(settings: Settings) -> Path:
    return Path(settings.resolved_database_url.removeprefix("sqlite:///"))


def _backup(src: Path, dst: Path) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def _restore(backup: Path, db: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, db)


def _watch(c: TestClient, state: Path, key: str) -> note.Checkpoint:
    """One run of an outside monitor against the portal `c` serves: the checkpoint it kept."""
    out = monitor.run("http://testserver", key=key, state=state, now=NOW, client=c)
    assert out.checkpoint is not None
    return out.checkpoint


def _check_rebuilt(settings: Settings, receipt: dict[str, Any]) -> None:
    """B's submission, consent and item rows are back as the logged events describe them,
    each with its `log.item_recovered` event."""
    rt = build_runtime(settings)
    try:
        with rt.sessions() as db:
            sub = db.get(Submission, receipt["submission"])
            assert sub is not None and sub.status == SubmissionState.OPEN
            consent = db.scalars(select(Consent).where(Consent.submission_id == sub.id)).one()
            for field in ("version", "sha256", "scopes", "language"):
                assert getattr(consent, field) == receipt["consent"][field]
            proven = receipt["files"][0]
            item = db.scalars(select(Evidence).where(Evidence.submission_id == sub.id)).one()
            # The name is not rebuilt: the log holds only its salted commitment.
            assert (item.filename, item.size, item.sha256, item.media_type, item.log_index) == (
                "",
                proven["size"],
                proven["sha256"],
                proven["media_type"],
                proven["leaf_index"],
            )
            assert rt.storage.exists(item.storage_key)
            logged = db.scalars(
                select(LogEntry.subject).where(LogEntry.type == str(EventType.LOG_ITEM_RECOVERED))
            ).all()
            assert sorted(logged) == sorted([sub.id, item.id])
    finally:
        rt.engine.dispose()


def test_a_database_restored_from_an_older_backup_is_refused_then_recovered(
    data: Settings, video: Path, tmp_path: Path
) -> None:
    with TestClient(create_app(data)) as c:
        _, a = new_submission(c)
        upload(c, {"Authorization": f"Bearer {a}"}, video.read_bytes())
    backup = tmp_path / "backup.db"
    _backup(_db_file(data), backup)
    # The operator also keeps the whole data folder (key included) as it is now.
    copy = tmp_path / "copy"
    shutil.copytree(data.data_dir, copy)
    with TestClient(create_app(data)) as c:
        b_id, b = new_submission(c)
        b_auth = {"Authorization": f"Bearer {b}"}
        upload(c, b_auth, video.read_bytes()[:-1000])
        receipt = c.get(f"/api/v1/submissions/{b_id}/receipt", headers=b_auth).json()
        key = verifier(c)
        watched = tmp_path / "monitor"
        seen = _watch(c, watched, key)
    signed = note.parse_checkpoint(note.open_note(receipt["checkpoint"], key))
    assert seen == signed
    _restore(backup, _db_file(data))

    with TestClient(create_app(data)) as c:
        # The last checkpoint signed before the restore: B's receipt's, or a later one that
        # B's media work (logged after the receipt) asked for.
        last = reader(c).checkpoint(key)
        assert last.size >= signed.size
        r = c.post("/api/v1/submissions", json={"consent": CONSENT})
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "log_rolled_back"
        assert f"size {last.size}" in r.json()["message"]
        with pytest.raises(custody.LogRolledBack):
            runtime(c).sign_checkpoint()
        # A load balancer takes the instance out: /readyz names the log.
        ready = c.get("/readyz")
        assert ready.status_code == 503 and not ready.json()["checks"]["log"]["ok"]
        assert f"size {last.size}" in ready.json()["checks"]["log"]["detail"]
        # The public log and the witness pages still answer; the monitor sees the pinned
        # checkpoint, nothing newer.
        assert _watch(c, watched, key) == last
        assert c.get("/api/v1/consent").status_code == 200
        assert c.get(f"/api/v1/log/tile/0/000.p/{last.size}").status_code == 200

    d = str(data.data_dir)
    r = runner.invoke(cli, ["custody", "verify", "--no-content", "--data-dir", d])
    assert r.exit_code == 1
    assert f"checkpoint of size {last.size}" in r.output

    r = runner.invoke(cli, ["custody", "recover", "--data-dir", d])
    assert r.exit_code == 0, r.output
    assert f"rebuilt the submission row {b_id}" in r.output
    assert "rebuilt the evidence row" in r.output
    assert "received but not in the database" not in r.output
    _check_rebuilt(data, receipt)
    r = runner.invoke(cli, ["custody", "recover", "--data-dir", d])
    assert "nothing to do" in r.output

    with TestClient(create_app(data)) as c:
        assert c.get("/readyz").json()["checks"]["log"]["ok"]
        _, other = new_submission(c)
        upload(c, {"Authorization": f"Bearer {other}"}, video.read_bytes()[:-2000])
        runtime(c).checkpoints.drain(30)  # its signing round, so `now` is the newest
        now = reader(c).checkpoint(key)
        assert now.size > last.size
        reader(c).consistency_proof(signed, now)
        reader(c).consistency_proof(last, now)
        index = receipt["files"][0]["leaf_index"]
        reader(c).inclusion_proof(index, now)
        # B's receipt, against today's log: a consistency proof from the public tiles.
        report = verify_receipt(receipt, key)
        remote.check_against(report, receipt, "http://testserver", key, client=c)
        assert report.ok, report.text()
        assert "still in it" in report.text()
        # The monitor that saw B's checkpoint accepts the larger tree now.
        assert _watch(c, watched, key) == now
    r = runner.invoke(cli, ["custody", "verify", "--no-content", "--data-dir", d])
    assert r.exit_code == 0, r.output

    # A deliberate fork: the copied folder, run on its own, signs with the same key a tree
    # as large as the one watched that lacks B's entries. The monitor refuses it.
    forked = Settings(data_dir=copy)
    with TestClient(create_app(forked)) as c:
        while runtime(c).sign_checkpoint().size <= now.size:
            _, t = new_submission(c)
            upload(c, {"Authorization": f"Bearer {t}"}, video.read_bytes()[:-3000])
        assert verifier(c) == key
        with pytest.raises(remote.ForkError, match="FORK"):
            _watch(c, watched, key)
        # ... as does B's receipt, checked against it.
        report = verify_receipt(receipt, key)
        remote.check_against(report, receipt, "http://testserver", key, client=c)
        assert not report.ok and "FORK" in report.text()
    # A failed run keeps what the monitor saw last.
    kept = note.parse_checkpoint(note.open_note((watched / "checkpoint").read_text(), key))
    assert kept == now


def test_a_forked_database_is_refused_and_not_recovered(
    data: Settings, video: Path, tmp_path: Path
) -> None:
    with TestClient(create_app(data)) as c:
        new_submission(c)
    backup = tmp_path / "backup.db"
    _backup(_db_file(data), backup)
    with TestClient(create_app(data)) as c:
        new_submission(c)
        runtime(c).sign_checkpoint()
    _restore(backup, _db_file(data))
    # Someone appends to the restored database before the portal starts: a fork.
    rt = build_runtime(data)
    with transaction(rt.sessions) as db:
        for _ in range(5):
            custody.append(
                db,
                type=EventType.LOG_VERIFIED,
                actor=custody.SYSTEM,
                subject="log",
                details={},
                at=rt.clock(),
            )
    rt.engine.dispose()
    with TestClient(create_app(data)) as c:
        r = c.post("/api/v1/submissions", json={"consent": CONSENT})
        assert r.status_code == 503
        assert "contradicts" in r.json()["message"]
    r = runner.invoke(cli, ["custody", "recover", "--data-dir", str(data.data_dir)])
    assert r.exit_code == 1
    assert "fork" in r.output
