"""Upgrades from earlier schemas keep every item, receipt and proof; downgrades are refused.

The earlier database is generated, not stored: Alembic builds the schema of an earlier revision,
and the rows a portal wrote (received files, consent, the signed log) are inserted through that
revision's own tables, column by column as that revision had them. `portal db upgrade` then
brings it to the head.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select, text
from typer.testing import CliRunner

from portal.app import create_app
from portal.cli import app as cli
from portal.config import Settings
from portal.custody import service as custody
from portal.custody.receipt import verify_receipt
from portal.db import SchemaTooNew, make_engine, migrate
from portal.flows.content_audit import audit_log_and_content
from portal.models import import_models
from tests.support.api import CONTACT, new_submission, runtime, staff_login
from tests.support.servers import fresh_database
from tests.support.uploads import create_upload, patch, upload

runner = CliRunner()
EARLIER = ("0001", "0005", "0007", "0009")
# The data is written at head, so its log holds file names only as salted commitments; a
# revision before 0009 has no column for the salts, so its copy cannot open them and its
# receipts are not compared (the schema, the log audit and the unfinished upload still are).
NAME_SALTS = "0009"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, video: Path) -> Iterator[dict[str, Any]]:
    """A portal's data at head: two received files, one unfinished upload, signed receipts."""
    data_dir = tmp_path_factory.mktemp("upgrade") / "data"
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        receipts = {}
        for name in ("a.mp4", "b.mp4"):
            sub_id, token = new_submission(client, contact=CONTACT)
            auth = {"Authorization": f"Bearer {token}"}
            upload(client, auth, video.read_bytes(), name=name)
            receipts[sub_id] = auth
        url = create_upload(client, auth, 1000, name="c.mp4")
        assert patch(client, url, auth, 0, video.read_bytes()[:400]).status_code == 204
        runtime(client).sign_checkpoint()
        issued = {
            sub: client.get(f"/api/v1/submissions/{sub}/receipt", headers=auth).json()
            for sub, auth in receipts.items()
        }
        yield {"data_dir": data_dir, "auth": receipts, "receipts": issued, "upload": url}


def copy_into_revision(source: Path, target: str, revision: str) -> None:
    """An empty database at `revision`, then every row of `source` its tables can hold."""
    import_models()
    old = make_engine(target)
    migrate(old, revision)
    src = make_engine(f"sqlite:///{source}")
    have, want = MetaData(), MetaData()
    have.reflect(src)
    want.reflect(old)
    with src.connect() as reading, old.begin() as writing:
        for table in want.sorted_tables:
            if table.name == "alembic_version" or table.name not in have.tables:
                continue
            from_table = have.tables[table.name]
            common = [c.name for c in table.columns if c.name in from_table.columns]
            rows = reading.execute(select(*(from_table.c[n] for n in common))).mappings().all()
            if rows:
                writing.execute(table.delete())  # rows the migrations seed (the log head)
                writing.execute(table.insert(), [dict(r) for r in rows])
    src.dispose()
    old.dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("revision", EARLIER)
def test_an_earlier_database_upgrades_with_every_proof_intact(
    written: dict[str, Any],
    tmp_path: Path,
    revision: str,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    data_dir: Path = written["data_dir"]
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / f'portal-{revision}.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_url"))
    copy_into_revision(data_dir / "portal.db", url, revision)
    monkeypatch.setenv("PORTAL_DATABASE_URL", url)
    r = runner.invoke(cli, ["db", "upgrade", "--data-dir", str(data_dir)])
    assert r.exit_code == 0 and "up to date" in r.output, r.output

    settings = Settings(data_dir=data_dir, database_url=url)
    with TestClient(create_app(settings)) as client:
        rt = runtime(client)
        assert rt.check_log(), rt.log_mirror.refused
        for sub_id, auth in written["auth"].items():
            if revision < NAME_SALTS:
                break
            before = written["receipts"][sub_id]
            assert verify_receipt(before, rt.log_verifier).ok
            after = client.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).json()
            report = verify_receipt(after, rt.log_verifier)
            assert report.ok, report.text()
            assert after["files"] == before["files"]
        with rt.readers() as db:
            audit = audit_log_and_content(
                db, rt.storage, verifier_key=rt.log_verifier, origin=settings.log_origin
            )
        assert audit.ok, audit.text()
        url, auth = written["upload"], list(written["auth"].values())[-1]
        head = client.head(url, headers={"Tus-Resumable": "1.0.0", **auth})
        assert head.headers["Upload-Offset"] == "400"


def test_a_database_from_a_newer_version_is_refused(
    written: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = tmp_path / "newer.db"
    copy_into_revision(written["data_dir"] / "portal.db", f"sqlite:///{newer}", "head")
    engine = make_engine(f"sqlite:///{newer}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()  # the change leaves the write-ahead log for the file itself
    before = newer.read_bytes()
    monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{newer}")
    r = runner.invoke(cli, ["db", "upgrade", "--data-dir", str(written["data_dir"])])
    assert r.exit_code == 1, r.output
    assert "schema_too_new" in r.output and "Downgrades are not supported" in r.output
    with pytest.raises(SchemaTooNew, match="revision 9999"):
        migrate(engine)
    engine.dispose()
    settings = Settings(data_dir=written["data_dir"], database_url=f"sqlite:///{newer}")
    with pytest.raises(SchemaTooNew), TestClient(create_app(settings)):
        pass
    assert newer.read_bytes() == before


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_plaintext_witness_data_is_sealed_at_the_first_start(
    written: dict[str, Any],
    tmp_path: Path,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """A database from before 0012 holds incident text and the file's place and device in the
    clear; the first start with the key seals them, logs it once, and a second start finds
    nothing left to do."""
    # A copy: the starts below sign checkpoints into the data folder's log mirror.
    data_dir = Path(shutil.copytree(written["data_dir"], tmp_path / "data"))
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'portal-0011.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_url"))
    copy_into_revision(data_dir / "portal.db", url, "0011")
    sub_id = next(iter(written["auth"]))
    device = {"make": "Apple", "model": "iPhone 15", "location": {"latitude": 31.74}}
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE submissions SET incident_place = 'Calle Mayor 1', "
                 "incident_description = 'desde el balcón' WHERE id = :id"),
            {"id": sub_id},
        )  # fmt: skip
        ev_id, info = conn.execute(
            text("SELECT id, media_info FROM evidence WHERE submission_id = :id"), {"id": sub_id}
        ).one()
        old = {**(json.loads(info) if isinstance(info, str) else info or {}), **device}
        conn.execute(
            text("UPDATE evidence SET media_info = :info WHERE id = :id"),
            {"info": json.dumps(old), "id": ev_id},
        )
    engine.dispose()
    monkeypatch.setenv("PORTAL_DATABASE_URL", url)
    r = runner.invoke(cli, ["db", "upgrade", "--data-dir", str(data_dir)])
    assert r.exit_code == 0, r.output

    settings = Settings(data_dir=data_dir, database_url=url)
    for start in (1, 2):
        with TestClient(create_app(settings)) as client:
            rt = runtime(client)
            with rt.engine.connect() as conn:
                rows = repr(conn.execute(text("SELECT * FROM submissions")).all())
                rows += repr(conn.execute(text("SELECT * FROM evidence")).all())
            for secret in ("Calle Mayor", "balcón", "iPhone", "Apple", "31.74"):
                assert secret not in rows, (start, secret)
            with rt.readers() as db:
                sealed = [e for e in custody.entries(db, start=0, end=custody.tree_size(db))]
            logged = [json.loads(e.event) for e in sealed]
            logged = [e for e in logged if e["type"] == "witness.data_sealed"]
            assert [e["details"] for e in logged] == [{"submissions": 1, "items": 1}], start
            sup = staff_login(client, "supervisor", name=f"sup{start}")
            body = client.get(f"/api/v1/evidence/{ev_id}/incident", headers=sup).json()
            assert body["incident"] == {"place": "Calle Mayor 1", "description": "desde el balcón"}
            assert body["device"]["model"] == "iPhone 15"
