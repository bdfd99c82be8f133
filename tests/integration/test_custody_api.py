"""The public log routes, the admin-token proof routes and periodic signing."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.custody import merkle, note
from tests.support.api import new_submission, staff_login
from tests.support.uploads import upload

pytestmark = pytest.mark.both_backends


@pytest.fixture
def auditor(client: TestClient) -> dict[str, str]:
    return staff_login(client, "auditor")


def latest(client: TestClient) -> note.Checkpoint:
    vkey = client.get("/api/v1/log/public-key").text.strip()
    return note.parse_checkpoint(note.open_note(client.get("/api/v1/log/checkpoint").text, vkey))


def test_checkpoint_is_signed_by_the_published_key(client: TestClient, video: Path) -> None:
    _, token = new_submission(client)
    upload(client, {"Authorization": f"Bearer {token}"}, video.read_bytes())
    cp = latest(client)
    assert cp.origin == "portal.invalid/custody"
    # consent.given, submission.created, upload.created, upload.completed, evidence.received
    # and the start-up checkpoint's own event precede the checkpoint signed on completion.
    assert cp.size >= 6


def test_key_files_are_private(client: TestClient, settings: Settings) -> None:
    for path in (settings.resolved_log_key_file, settings.resolved_contact_key_file):
        assert path.stat().st_mode & 0o077 == 0, path


def test_inclusion_and_consistency_proofs_verify(
    client: TestClient, auditor: dict[str, str], video: Path
) -> None:
    admin_client, ADMIN = client, auditor
    _, token = new_submission(admin_client)
    upload(admin_client, {"Authorization": f"Bearer {token}"}, video.read_bytes())
    cp = latest(admin_client)
    for index in range(cp.size):
        r = admin_client.get(
            "/api/v1/log/proof/inclusion",
            params={"index": index, "tree_size": cp.size},
            headers=ADMIN,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        proof = [base64.b64decode(h) for h in body["proof"]]
        merkle.verify_inclusion(base64.b64decode(body["leaf_hash"]), index, cp.size, proof, cp.root)
    # Public between signed sizes: the start-up checkpoint and the newest.
    first = _first_signed(admin_client, cp.size)
    r = admin_client.get(
        "/api/v1/log/proof/consistency", params={"first": first, "second": cp.size}
    )
    body = r.json()
    merkle.verify_consistency(
        first,
        cp.size,
        [base64.b64decode(h) for h in body["proof"]],
        base64.b64decode(body["first_root"]),
        cp.root,
    )
    entries = admin_client.get(
        "/api/v1/log/entries", params={"start": 0, "end": cp.size}, headers=ADMIN
    ).json()["entries"]
    assert [e["seq"] for e in entries] == list(range(cp.size))
    leaves = [merkle.leaf_hash(e["event"].encode()) for e in entries]
    assert merkle.root_from_leaf_hashes(leaves) == cp.root


def _first_signed(client: TestClient, newest: int) -> int:
    """The smallest size with a signed checkpoint (the public route proves between those)."""
    for size in range(1, newest + 1):
        r = client.get("/api/v1/log/proof/consistency", params={"first": size, "second": newest})
        if r.status_code == 200:
            return size
    raise AssertionError("no signed size")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/log/proof/inclusion", {"index": 5, "tree_size": 5}),
        ("/api/v1/log/proof/inclusion", {"index": 0, "tree_size": 10_000}),
        ("/api/v1/log/proof/inclusion", {"index": -1, "tree_size": 1}),
        ("/api/v1/log/proof/consistency", {"first": 3, "second": 2}),
        ("/api/v1/log/entries", {"start": 5, "end": 5}),
        ("/api/v1/log/entries", {"start": 0, "end": 5000}),
        ("/api/v1/log/entries", {"start": "x", "end": 1}),
    ],
)
def test_bad_proof_ranges_are_refused(
    client: TestClient, auditor: dict[str, str], path: str, params: dict[str, object]
) -> None:
    r = client.get(path, params=params, headers=auditor)
    assert r.status_code == 422
    assert r.json()["error"] in ("bad_range", "invalid") and r.json()["message"]


@pytest.mark.parametrize("path", ["/api/v1/log/proof/inclusion", "/api/v1/log/entries"])
def test_proof_routes_are_for_auditors(client: TestClient, path: str) -> None:
    params = {"index": 0, "tree_size": 1, "start": 0, "end": 1}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = client.get(path, params=params, headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    _, token = new_submission(client)
    r = client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401  # a witness token opens nothing here
    r = client.get(path, params=params, headers=staff_login(client, "investigator"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert (
        client.get(path, params=params, headers=staff_login(client, "auditor")).status_code == 200
    )


def test_checkpoints_are_signed_periodically(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", checkpoint_interval=timedelta(seconds=0.2))
    with TestClient(create_app(settings)) as c:
        first = latest(c).size
        new_submission(c)
        deadline = time.monotonic() + 10
        while latest(c).size == first and time.monotonic() < deadline:
            time.sleep(0.1)
        grown = latest(c).size
        assert grown > first
        time.sleep(1)
        # Quiet log: no new checkpoint just to record the previous signing.
        assert latest(c).size == grown


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE log_entries SET event = :junk WHERE seq = 0",
        "DELETE FROM log_entries WHERE seq = 0",
        "UPDATE log_nodes SET hash = :junk",
        "DELETE FROM log_checkpoints",
    ],
)
def test_the_database_refuses_to_rewrite_the_log(client: TestClient, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    new_submission(client)
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    with pytest.raises(DatabaseError, match="append-only"), rt.engine.begin() as conn:
        conn.execute(text(statement), {"junk": b"\x00"} if ":junk" in statement else {})
