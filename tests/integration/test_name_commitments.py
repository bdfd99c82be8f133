"""File names are witness data: the permanent log holds only a salted commitment to each, and a
withdrawal erases the names and salts while every proof still holds."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from portal.config import Settings
from portal.custody.commitment import commit
from portal.custody.receipt import verify_receipt
from portal.db import transaction
from portal.flows import withdrawal
from portal.uploads.completion import Complete, mark_completed
from tests.support.custody import events, of_type
from tests.support.uploads import create_upload, upload

NAMES = ("IMG_20260102_Maria_Lopez.mp4", "balcón-calle-5.mp4")


def _upload_both(client: TestClient, auth: dict[str, str], video: Path) -> None:
    data = video.read_bytes()
    upload(client, auth, data, name=NAMES[0])
    upload(client, auth, data + b"\0" * 64, name=NAMES[1])


@pytest.mark.both_backends
def test_the_log_holds_commitments_not_names(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    sub_id, auth = witness
    _upload_both(client, auth, video)
    text = json.dumps(events(client), ensure_ascii=False)
    for name in NAMES:
        assert name not in text and name.split(".")[0] not in text
    created = of_type(client, "upload.created", sub_id)
    completed = of_type(client, "upload.completed", sub_id)
    assert len(created) == len(completed) == 2
    receipt = client.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).json()
    for entry in receipt["files"]:
        event = json.loads(entry["event"])
        assert event["details"]["name_commitment"] == commit(entry["name"], entry["name_salt"])
        assert "filename" not in event["details"]
    assert {f["name"] for f in receipt["files"]} == set(NAMES)
    # upload.created commits to the same name with the same salt.
    assert {e["details"]["name_commitment"] for e in created} == {
        e["details"]["name_commitment"] for e in completed
    }


@pytest.mark.both_backends
def test_withdrawal_erases_names_and_salts_and_the_receipt_still_verifies(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    sub_id, auth = witness
    _upload_both(client, auth, video)
    r = client.post(f"/api/v1/submissions/{sub_id}/withdrawal", headers=auth)
    assert r.status_code == 200, r.text
    [erased] = of_type(client, "submission.names_erased", sub_id)
    assert erased["details"] == {"evidence": 2, "uploads": 2}
    assert [
        f["name"] for f in client.get(f"/api/v1/submissions/{sub_id}", headers=auth).json()["files"]
    ] == ["", ""]
    receipt = client.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).json()
    assert [(f["name"], f["name_salt"]) for f in receipt["files"]] == [(None, None)] * 2
    key = client.get("/api/v1/log/public-key").text.strip()
    report = verify_receipt(receipt, key)
    assert report.ok, report.text()
    assert {"files[0].name", "files[1].name"} <= {p for p, _ in report.unverified}
    # A second withdrawal (refused) erases and logs nothing more.
    again = client.post(f"/api/v1/submissions/{sub_id}/withdrawal", headers=auth)
    assert again.status_code == 409
    assert len(of_type(client, "submission.names_erased", sub_id)) == 1


def test_no_name_is_left_in_the_database_file_after_withdrawal(
    settings: Settings, client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    sub_id, auth = witness
    _upload_both(client, auth, video)
    db_file = settings.data_dir / "portal.db"
    raw = db_file.read_bytes() + _wal(db_file)
    assert NAMES[0].encode() in raw
    r = client.post(f"/api/v1/submissions/{sub_id}/withdrawal", headers=auth)
    assert r.status_code == 200, r.text
    client.app.state.runtime.engine.dispose()  # type: ignore[attr-defined]
    with sqlite3.connect(db_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = db_file.read_bytes() + _wal(db_file)
    for name in NAMES:
        assert name.encode() not in raw
        assert name.split(".")[0].encode() not in raw


def _wal(db_file: Path) -> bytes:
    wal = db_file.with_name(db_file.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_a_name_erased_before_completion_stays_erased(
    client: TestClient, witness: tuple[str, dict[str, str]]
) -> None:
    """A withdrawal that lands between an upload's last byte and its finalise: the name it
    erased is not brought back, and no salt is kept for it."""
    sub_id, auth = witness
    url = create_upload(client, auth, 10, NAMES[0])
    upload_id = url.rsplit("/", 1)[-1]
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    with transaction(rt.sessions) as db:
        withdrawal.erase_names(db, submission_id=sub_id, now=rt.clock())
    done = Complete(upload_id, sub_id, NAMES[0], 10, "0" * 64, "video/mp4", "sha256/" + "0" * 64)
    with transaction(rt.sessions) as db:
        marked = mark_completed(db, done=done, now=rt.clock())
        assert marked is not None
        upload, _ = marked
        assert (upload.filename, upload.name_salt) == ("", None)
    assert NAMES[0] not in json.dumps(events(client), ensure_ascii=False)
