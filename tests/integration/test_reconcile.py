"""`portal storage reconcile`: crash leftovers found, old ones removed on the record, and
nothing that a row, an upload in flight, the retention purge or Object Lock owns touched.

The leftovers are made for real: bytes written through the storage backend the way an upload
writes them, rows left out or removed the way a crash (or a restored backup) would leave them.
Time is moved by handing `reconcile` a later `now`; storage keeps its own clock."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from typer.testing import CliRunner

from portal.cli import app
from portal.clock import utcnow
from portal.config import Settings
from portal.custody import service as custody
from portal.errors import StorageUnavailable
from portal.evidence.models import Derivative, Evidence
from portal.flows.content_audit import audit_log_and_content
from portal.flows.reconcile import Report, reconcile
from portal.ids import new_id
from portal.jobs.models import Job
from portal.runtime import Runtime
from portal.storage import Storage
from portal.storage.local import LocalStorage
from portal.storage.s3 import S3Storage
from portal.uploads.models import Upload
from tests.support.custody import log_size
from tests.support.uploads import create_upload, patch, upload

pytestmark = pytest.mark.both_backends

runner = CliRunner()
LATER = timedelta(hours=1)  # past the upload expiry, on top of it


def runtime(client: TestClient) -> Runtime:
    rt: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return rt


def run(client: TestClient, *, repair: bool = False, after_expiry: bool = False) -> Report:
    rt = runtime(client)
    now = utcnow() + (rt.settings.upload_expiry + LATER if after_expiry else timedelta(0))
    return reconcile(
        sessions=rt.sessions,
        storage=rt.storage,
        expiry=rt.settings.upload_expiry,
        repair=repair,
        now=now,
    )


def events(client: TestClient, type: str | None = None) -> list[dict[str, Any]]:
    with runtime(client).sessions() as db:
        entries = custody.entries(db, start=0, end=custody.tree_size(db))
    parsed = [json.loads(e.event) for e in entries]
    return [e for e in parsed if type is None or e["type"] == type]


# --- making leftovers ---------------------------------------------------------------------------


def write_partial(storage: Storage, upload_id: str, data: bytes) -> str | None:
    storage.create_partial(upload_id)
    w = storage.open_partial(upload_id, 0, None)
    w.write(data)
    return w.commit()


def stray_original(storage: Storage, data: bytes) -> str:
    """An original that landed (finish_partial ran) and whose row never committed."""
    upload_id = new_id()
    key = f"sha256/{hashlib.sha256(data).hexdigest()}"
    storage.finish_partial(upload_id, write_partial(storage, upload_id, data), key)
    return key


def stray_poster(storage: Storage) -> str:
    key = f"derived/{hashlib.sha256(os.urandom(16)).hexdigest()}/poster.jpg"
    storage.put(key, b"\xff\xd8\xff\xe0 not much of a poster")
    return key


def delete_directly(storage: Storage, key: str) -> None:
    """Someone with storage access removes an object behind the portal's back."""
    if isinstance(storage, LocalStorage):
        (storage.root / key).unlink()
    else:
        assert isinstance(storage, S3Storage)
        # A plain DELETE: in a versioned (Object Lock) bucket it leaves a delete marker.
        storage._s3.delete_object(Bucket=storage.bucket, Key=storage.prefix + key)


def partial_ids(storage: Storage) -> set[str]:
    return {p.upload_id for p in storage.list_partials()}


def evidence_of(client: TestClient, upload_url: str) -> Evidence:
    with runtime(client).sessions() as db:
        row = db.get(Upload, upload_url.rsplit("/", 1)[1])
        assert row is not None and row.evidence_id is not None
        item = db.get(Evidence, row.evidence_id)
        assert item is not None
        return item


def variant(video: Path, n: int) -> bytes:
    """Another file with the same picture: trailing bytes change the hash, not the type."""
    return video.read_bytes() + b"\0" * n


def orphans(report: Report) -> dict[str, tuple[str, str]]:
    return {o.key: (o.kind, o.reason) for o in report.orphans}


# --- tests ------------------------------------------------------------------------------------


def test_crash_leftovers_are_reported_and_nothing_changes(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    _, auth = witness
    storage = runtime(client).storage
    original = stray_original(storage, os.urandom(3000))
    poster = stray_poster(storage)
    rowless = new_id()
    write_partial(storage, rowless, b"x" * 1000)
    # A finished upload whose partial was left behind (its clean-up failed).
    finished = upload(client, auth, variant(video, 1)).rsplit("/", 1)[1]
    write_partial(storage, finished, b"y" * 1000)
    # An item whose original was deleted from storage directly.
    lost = evidence_of(client, upload(client, auth, variant(video, 2)))
    delete_directly(storage, lost.storage_key)
    # An unfinished upload whose partial is gone.
    data = variant(video, 3)
    url = create_upload(client, auth, len(data))
    assert patch(client, url, auth, 0, data[:1000]).status_code == 204
    unfinished = url.rsplit("/", 1)[1]
    with runtime(client).sessions() as db:
        row = db.get(Upload, unfinished)
        assert row is not None
        state = row.backend_state
    storage.delete_partial(unfinished, state)

    size = log_size(client)
    report = run(client)
    assert orphans(report) == {
        original: ("original", "no evidence row"),
        poster: ("derivative", "no derivative row"),
        f"partial/{rowless}": ("partial", "no upload row"),
        f"partial/{finished}": ("partial", "upload completed"),
    }
    assert all(not o.old_enough and o.keep is None for o in report.orphans)
    assert {(m.kind, m.id, m.key) for m in report.missing} == {
        ("evidence", lost.id, lost.storage_key),
        ("upload", unfinished, f"partial/{unfinished}"),
    }
    assert report.repaired == [] and not report.clean
    # Reporting touches nothing: no event, every leftover still there.
    assert log_size(client) == size
    assert storage.exists(original) and storage.exists(poster)
    assert {rowless, finished} <= partial_ids(storage)


def test_repair_waits_for_the_upload_expiry_then_removes_only_orphans(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    _, auth = witness
    rt = runtime(client)
    storage = rt.storage
    kept = evidence_of(client, upload(client, auth, video.read_bytes()))
    data = os.urandom(3000)
    original = stray_original(storage, data)
    poster = stray_poster(storage)
    rowless = new_id()
    write_partial(storage, rowless, b"x" * 1000)
    finished = upload(client, auth, variant(video, 1)).rsplit("/", 1)[1]
    write_partial(storage, finished, b"y" * 1000)
    # An upload in progress: its partial is claimed, whatever the clock says.
    active = variant(video, 2)
    active_url = create_upload(client, auth, len(active))
    assert patch(client, active_url, auth, 0, active[:1000]).status_code == 204
    active_id = active_url.rsplit("/", 1)[1]

    size = log_size(client)
    report = run(client, repair=True)  # nothing is older than the expiry yet
    assert len(report.orphans) == 4 and report.repaired == []
    assert all(o.outcome is None for o in report.orphans)
    assert log_size(client) == size
    assert storage.exists(original) and storage.exists(poster)

    report = run(client, repair=True, after_expiry=True)
    assert {o.key for o in report.repaired} == {
        original,
        poster,
        f"partial/{rowless}",
        f"partial/{finished}",
    }
    assert report.clean and report.missing == []
    assert not storage.exists(original) and not storage.exists(poster)
    ids = partial_ids(storage)
    assert rowless not in ids and finished not in ids and active_id in ids
    assert storage.exists(kept.storage_key) and storage.exists(kept.thumbnail_key or "")
    # One event each, committed before its delete, naming what went.
    removed = events(client, "storage.orphan_removed")
    assert log_size(client) == size + 4 and len(removed) == 4
    by_key = {e["details"]["key"]: e for e in removed}
    assert by_key[original]["details"] == {
        "key": original,
        "kind": "original",
        "size": 3000,
        "sha256": hashlib.sha256(data).hexdigest(),
        "reason": "no evidence row",
        "last_modified": by_key[original]["details"]["last_modified"],
    }
    assert by_key[f"partial/{rowless}"]["details"]["upload"] == rowless
    assert {e["actor"] for e in removed} == {"system"}
    assert {o.log_index for o in report.repaired} == {e["seq"] for e in removed}
    assert events(client, "storage.orphan_kept") == []
    # The log is still whole, and every original is intact.
    with rt.sessions() as db:
        audit = audit_log_and_content(
            db, storage, verifier_key=rt.log_verifier, origin=rt.settings.log_origin
        )
    assert audit.ok, audit.text()
    # Done: a second run finds nothing and records nothing.
    again = run(client, repair=True, after_expiry=True)
    assert again.orphans == [] and again.missing == [] and again.clean
    assert log_size(client) == size + 4


def test_object_lock_and_legal_holds_are_never_bypassed(
    client: TestClient, witness: tuple[str, dict[str, str]]
) -> None:
    rt = runtime(client)
    storage = rt.storage
    held = stray_original(storage, os.urandom(2000))
    storage.set_legal_hold(held, True)
    retained = stray_original(storage, os.urandom(2001))
    storage.set_retention(retained, utcnow() + timedelta(days=30))
    free = stray_original(storage, os.urandom(2002))

    size = log_size(client)
    report = run(client, repair=True, after_expiry=True)
    outcome = {o.key: o.outcome for o in report.orphans}
    assert outcome == {held: "locked", retained: "locked", free: "removed"}
    assert [o.key for o in report.repaired] == [free] and not report.clean
    assert storage.exists(held) and storage.exists(retained) and not storage.exists(free)
    # Each attempt is on the record: the intent, then for a refusal what happened instead.
    removed = {e["details"]["key"]: e["seq"] for e in events(client, "storage.orphan_removed")}
    kept = {e["details"]["key"]: e["details"] for e in events(client, "storage.orphan_kept")}
    assert removed.keys() == {held, retained, free} and kept.keys() == {held, retained}
    for key in (held, retained):
        assert kept[key]["removal"] == removed[key] and kept[key]["outcome"] == "locked"
    assert log_size(client) == size + 5
    with rt.sessions() as db:
        audit = audit_log_and_content(
            db, storage, verifier_key=rt.log_verifier, origin=rt.settings.log_origin
        )
    assert audit.ok, audit.text()
    # Still orphans, still refused next time; nothing was bypassed.
    again = run(client)
    assert {o.key for o in again.orphans} == {held, retained}


def test_a_partial_held_only_in_a_multipart_upload_is_listed_and_removed(
    client: TestClient,
) -> None:
    """On S3 a partial of whole parts has no object at all, only a multipart upload."""
    storage = runtime(client).storage
    size = getattr(storage, "part_size", 1 << 20)
    rowless = new_id()
    write_partial(storage, rowless, os.urandom(size))
    [listed] = [p for p in storage.list_partials() if p.upload_id == rowless]
    assert listed.size == size
    report = run(client, repair=True, after_expiry=True)
    assert [o.key for o in report.repaired] == [f"partial/{rowless}"]
    assert rowless not in partial_ids(storage)
    if isinstance(storage, S3Storage):
        # The portal's narrow client type leaves out this call; boto3's client has it.
        s3: Any = storage._s3
        uploads = s3.list_multipart_uploads(Bucket=storage.bucket)
        assert uploads.get("Uploads", []) == []


def test_an_original_the_log_says_was_received_is_never_removed(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    """Its row is gone (say an old backup was restored), but a witness holds a receipt."""
    _, auth = witness
    rt = runtime(client)
    item = evidence_of(client, upload(client, auth, video.read_bytes()))
    with rt.sessions.begin() as db:
        db.execute(delete(Job).where(Job.evidence_id == item.id))
        db.execute(delete(Evidence).where(Evidence.id == item.id))
    size = log_size(client)
    report = run(client, repair=True, after_expiry=True)
    [orphan] = report.orphans
    assert (orphan.key, orphan.kind, orphan.reason) == (
        item.storage_key,
        "original",
        "no evidence row",
    )
    assert orphan.old_enough and not orphan.removable and orphan.outcome is None
    assert orphan.keep is not None and "custody log records it as received" in orphan.keep
    assert report.repaired == [] and not report.clean
    assert rt.storage.exists(item.storage_key) and log_size(client) == size


def test_an_upload_waiting_to_be_finalised_keeps_its_original(
    client: TestClient,
    witness: tuple[str, dict[str, str]],
    video: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The original landed, then the process failed before the row: finalise owns it."""
    _, auth = witness
    rt = runtime(client)
    data = variant(video, 5)
    real_finish = rt.storage.finish_partial

    def landed_then_failed(upload_id: str, state: str | None, key: str) -> None:
        real_finish(upload_id, state, key)
        raise StorageUnavailable("the process died here")

    url = create_upload(client, auth, len(data))
    with monkeypatch.context() as m:
        m.setattr(rt.storage, "finish_partial", landed_then_failed)
        assert patch(client, url, auth, 0, data).status_code == 503
    key = f"sha256/{hashlib.sha256(data).hexdigest()}"
    assert rt.storage.exists(key)
    size = log_size(client)
    report = run(client, repair=True, after_expiry=True)
    assert report.orphans == [] and report.missing == [] and report.clean
    assert rt.storage.exists(key) and log_size(client) == size


def test_what_the_retention_purge_owns_is_left_to_it(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    _, auth = witness
    rt = runtime(client)
    storage = rt.storage
    # Mid-purge: the original and its poster are already deleted, the rows not yet changed.
    purging = evidence_of(client, upload(client, auth, variant(video, 1)))
    # Destroyed: tombstoned, its derivative rows gone, its bytes gone.
    purged = evidence_of(client, upload(client, auth, variant(video, 2)))
    # Destroyed on the record, but the bytes stayed behind.
    stayed = evidence_of(client, upload(client, auth, variant(video, 3)))
    for item in (purging, purged):
        delete_directly(storage, item.storage_key)
        delete_directly(storage, item.thumbnail_key or "")
    with rt.sessions.begin() as db:
        db.execute(update(Evidence).where(Evidence.id == purging.id).values(disposition="purging"))
        db.execute(
            update(Evidence)
            .where(Evidence.id.in_([purged.id, stayed.id]))
            .values(disposition="purged", thumbnail_key=None)
        )
        db.execute(delete(Derivative).where(Derivative.source_sha256 == purged.sha256))
    report = run(client)
    assert report.missing == []
    assert orphans(report) == {
        stayed.storage_key: ("original", "every item it held was destroyed by retention")
    }


def test_a_clean_portal_reports_nothing(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    _, auth = witness
    upload(client, auth, video.read_bytes())
    size = log_size(client)
    report = run(client, repair=True, after_expiry=True)
    assert report.orphans == [] and report.missing == [] and report.repaired == []
    assert report.clean and report.objects_checked == 2  # the original and its poster
    assert log_size(client) == size


# --- the command line ---------------------------------------------------------------------------


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """`portal storage reconcile` against the same database and storage as the app."""
    for name, value in (
        ("PORTAL_DATABASE_URL", settings.database_url),
        ("PORTAL_STORAGE_URL", settings.storage_url),
        ("PORTAL_S3_ENDPOINT_URL", settings.s3_endpoint_url),
    ):
        monkeypatch.setenv(name, value)
    return runner.invoke(app, ["storage", "reconcile", *args, "--data-dir", str(settings.data_dir)])


def test_cli_json_then_repair(
    client: TestClient,
    witness: tuple[str, dict[str, str]],
    video: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, auth = witness
    storage = runtime(client).storage
    upload(client, auth, video.read_bytes())
    r = cli(settings, monkeypatch, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"orphans": [], "missing": [], "repaired": []}

    original = stray_original(storage, os.urandom(3000))
    rowless = new_id()
    write_partial(storage, rowless, b"x" * 1000)
    r = cli(settings, monkeypatch, "--json")
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    assert set(out) == {"orphans", "missing", "repaired"}
    assert out["missing"] == [] and out["repaired"] == []
    found = {o["key"]: o for o in out["orphans"]}
    assert found.keys() == {original, f"partial/{rowless}"}
    assert found[original]["kind"] == "original" and found[original]["size"] == 3000
    assert found[f"partial/{rowless}"]["upload_id"] == rowless
    assert all(not o["old_enough"] and o["outcome"] is None for o in found.values())
    assert datetime.fromisoformat(found[original]["last_modified"]) <= utcnow()

    # --repair before the expiry removes nothing; with the expiry at zero, everything.
    r = cli(settings, monkeypatch, "--repair", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["repaired"] == []
    assert storage.exists(original)
    monkeypatch.setenv("PORTAL_UPLOAD_EXPIRY", "0")
    r = cli(settings, monkeypatch, "--repair", "--json")
    assert r.exit_code == 0, r.output
    repaired = json.loads(r.stdout)["repaired"]
    assert {(x["kind"], x["key"]) for x in repaired} == {
        ("original", original),
        ("partial", f"partial/{rowless}"),
    }
    assert all(isinstance(x["log_index"], int) for x in repaired)
    assert not storage.exists(original) and rowless not in partial_ids(storage)
    # Logged as asked for by a server operator.
    assert [e["actor"] for e in events(client, "storage.orphan_removed")] == ["cli", "cli"]

    # Tables for people; the log still verifies, content included.
    r = cli(settings, monkeypatch)
    assert r.exit_code == 0 and "0 orphans" in r.stdout, r.output
    rt = runtime(client)
    with rt.sessions() as db:
        audit = audit_log_and_content(
            db, storage, verifier_key=rt.log_verifier, origin=rt.settings.log_origin
        )
    assert audit.ok, audit.text()


def test_cli_table_names_each_leftover(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = runtime(client).storage
    original = stray_original(storage, os.urandom(3000))
    r = cli(settings, monkeypatch)
    assert r.exit_code == 1, r.output
    assert "orphans" in r.stdout and "original" in r.stdout
    assert "1 orphans (0 removed), 0 missing" in " ".join(r.stdout.split())
    assert storage.exists(original)
