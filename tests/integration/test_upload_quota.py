"""Nobody fills the disk: a free-space floor (507 before storage is full) and a per-client cap
on bytes of unfinished uploads (issue: anyone could fill the disk, and completed junk is then
storage-locked for 365 days)."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from tests.support.api import runtime
from tests.support.tus_requests import (
    TUS,
    UPLOADS,
    Witness,
    assert_error,
    create_upload,
    offset_of,
    patch,
    storage_root,
    stored,
)

MiB = 1024**2


def free(client: TestClient) -> int:
    return shutil.disk_usage(storage_root(client)).free


def create(client: TestClient, auth: dict[str, str], length: int) -> object:
    return client.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": str(length)})


@pytest.mark.local_only
def test_an_upload_that_would_pass_the_floor_is_507(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    runtime(client).settings.min_free_space = free(client) - 64 * MiB
    before = stored(client)
    r = client.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": str(256 * MiB)})
    assert_error(r, 507, "storage_nearly_full")
    assert stored(client) == before
    # A small one still fits above the floor.
    create_upload(client, auth, 1 * MiB)


@pytest.mark.local_only
def test_a_patch_below_the_floor_is_507_and_keeps_the_offset(
    client: TestClient, witness: Witness
) -> None:
    _, auth = witness
    url = create_upload(client, auth, 2000)
    assert patch(client, url, auth, b"a" * 400, 0).status_code == 204
    runtime(client).settings.min_free_space = free(client) + MiB
    assert_error(patch(client, url, auth, b"b" * 600, 400), 507, "storage_nearly_full")
    assert offset_of(client, url, auth) == 400
    runtime(client).settings.min_free_space = 0  # room again: the witness resumes
    assert patch(client, url, auth, b"b" * 600, 400).status_code == 204
    assert offset_of(client, url, auth) == 1000


def test_one_client_holds_only_so_many_unfinished_bytes(
    client: TestClient, witness: Witness
) -> None:
    _, auth = witness
    runtime(client).settings.max_unfinished_per_client = 1000
    first = create_upload(client, auth, 600)
    before = stored(client)
    r = client.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": "500"})
    assert_error(r, 429, "unfinished_quota")
    assert int(r.headers["Retry-After"]) > 0
    assert stored(client) == before
    # Cancelling (or finishing) an upload gives its share back.
    assert client.delete(first, headers={**TUS, **auth}).status_code == 204
    create_upload(client, auth, 500)


def test_a_finished_upload_keeps_no_client_pseudonym(client: TestClient, witness: Witness) -> None:
    from portal.uploads.models import Upload

    _, auth = witness
    url = create_upload(client, auth, 10)
    with runtime(client).sessions() as db:
        assert db.get(Upload, url.rsplit("/", 1)[1]).client_key  # type: ignore[union-attr]
    client.delete(url, headers={**TUS, **auth})
    with runtime(client).sessions() as db:
        assert db.get(Upload, url.rsplit("/", 1)[1]).client_key is None  # type: ignore[union-attr]
