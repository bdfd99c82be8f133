"""Crash and retry paths of the upload service, driven in-process."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from portal.errors import StorageUnavailable
from portal.evidence.models import Evidence
from portal.flows import finalise
from portal.flows.content_audit import audit_log_and_content
from portal.uploads.models import Upload
from tests.support.api import new_submission
from tests.support.uploads import TUS, create_upload, patch, upload

pytestmark = pytest.mark.both_backends


def upload_row(client: TestClient, url: str) -> Upload:
    with client.app.state.runtime.sessions() as db:  # type: ignore[attr-defined]
        row: Upload | None = db.get(Upload, url.rsplit("/", 1)[1])
        assert row is not None
        return row


def files(client: TestClient, sub_id: str, auth: dict[str, str]) -> list[dict[str, Any]]:
    return list(client.get(f"/api/v1/submissions/{sub_id}", headers=auth).json()["files"])


def upload_with_finalise_cut_short(
    client: TestClient, auth: dict[str, str], data: bytes, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Every byte durable, finalise stopped by storage: an upload the next HEAD finishes."""
    storage = client.app.state.runtime.storage  # type: ignore[attr-defined]

    def broken(*args: object) -> None:
        raise StorageUnavailable("storage went away")

    url = create_upload(client, auth, len(data))
    with monkeypatch.context() as m:
        m.setattr(storage, "finish_partial", broken)
        r = patch(client, url, auth, 0, data)
        assert r.status_code == 503 and r.json()["error"] == "storage_unavailable"
    return url


def test_lost_hash_state_is_rebuilt_from_stored_bytes(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    sub_id, auth = witness
    data = video.read_bytes()
    url = create_upload(client, auth, len(data))
    half = len(data) // 2
    assert patch(client, url, auth, 0, data[:half]).status_code == 204
    with client.app.state.runtime.sessions.begin() as db:  # type: ignore[attr-defined]
        db.execute(update(Upload).values(hash_state=None))
    assert patch(client, url, auth, half, data[half:]).status_code == 204
    assert files(client, sub_id, auth)[0]["sha256"] == hashlib.sha256(data).hexdigest()


def test_finalise_interrupted_by_storage_is_finished_by_head(
    client: TestClient,
    witness: tuple[str, dict[str, str]],
    video: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sub_id, auth = witness
    data = video.read_bytes()
    url = upload_with_finalise_cut_short(client, auth, data, monkeypatch)
    # The bytes were durable before finalise ran: the offset says so, and no evidence yet.
    assert upload_row(client, url).offset == len(data)
    assert files(client, sub_id, auth) == []
    r = client.head(url, headers={**TUS, **auth})
    assert r.status_code == 200 and r.headers["Upload-Offset"] == str(len(data))
    [item] = files(client, sub_id, auth)
    assert item["sha256"] == hashlib.sha256(data).hexdigest()
    # A retried final PATCH is answered, not refused, and adds nothing.
    assert patch(client, url, auth, len(data), b"").status_code == 204
    assert len(files(client, sub_id, auth)) == 1


def test_two_finalisers_of_one_upload_make_one_item(
    client: TestClient,
    witness: tuple[str, dict[str, str]],
    video: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A HEAD and a retried PATCH (or two instances) finishing the same upload at once."""
    sub_id, auth = witness
    data = video.read_bytes()
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    storage = rt.storage
    real_finish = storage.finish_partial
    url = upload_with_finalise_cut_short(client, auth, data, monkeypatch)
    # Both get past storage before either records anything.
    met = threading.Barrier(2, timeout=30)

    def finish_then_meet(*args: object) -> None:
        real_finish(*args)
        met.wait()

    monkeypatch.setattr(storage, "finish_partial", finish_then_meet)
    upload_id = url.rsplit("/", 1)[1]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: finalise.finalise(rt, upload_id=upload_id), range(2)))
    assert sum(r is not None for r in results) == 1
    with rt.sessions() as db:
        assert len(db.scalars(select(Evidence).where(Evidence.upload_id == upload_id)).all()) == 1
        audit = audit_log_and_content(
            db, storage, verifier_key=rt.log_verifier, origin=rt.settings.log_origin
        )
    assert audit.ok, audit.text()
    [item] = files(client, sub_id, auth)
    assert item["sha256"] == hashlib.sha256(data).hexdigest()


def test_same_file_from_two_witnesses_shares_one_original(
    client: TestClient, video: Path, settings: Any
) -> None:
    data = video.read_bytes()
    for _ in range(2):
        _, token = new_submission(client)
        upload(client, {"Authorization": f"Bearer {token}"}, data)
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    with rt.sessions() as db:
        keys = [e.storage_key for e in db.query(Evidence)]
    assert len(keys) == 2 and len(set(keys)) == 1
    assert b"".join(rt.storage.read(keys[0])) == data


def test_a_second_writer_gets_423_while_the_lease_is_held(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> None:
    _, auth = witness
    data = video.read_bytes()
    url = create_upload(client, auth, len(data))
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    with rt.sessions.begin() as db:
        db.execute(
            update(Upload).values(
                lock_owner="other-instance", lock_expires=rt.clock() + rt.settings.upload_lock_lease
            )
        )
    r = patch(client, url, auth, 0, data[:1000])
    assert r.status_code == 423 and r.headers["Retry-After"] == "1"
    assert upload_row(client, url).offset == 0
    with rt.sessions.begin() as db:  # the other instance's lease runs out
        db.execute(update(Upload).values(lock_expires=rt.clock()))
    assert patch(client, url, auth, 0, data[:1000]).status_code == 204
