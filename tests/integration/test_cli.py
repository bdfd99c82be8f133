"""The `portal` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from portal.cli import app
from portal.custody import service as custody
from tests.support.servers import Server
from tests.support.uploads import upload

runner = CliRunner()


def test_serve_prints_address_and_first_account_hint(server: Server) -> None:
    log = server.log.read_text()
    assert f"http://127.0.0.1:{server.port}/" in log
    assert "portal users add NAME --role admin" in log
    assert (server.data_dir / "portal.db").is_file()
    assert (server.data_dir / "storage").is_dir()


def test_users_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    d = str(tmp_path / "d")
    r = runner.invoke(
        app,
        ["users", "add", "ana", "--role", "investigator", "--data-dir", d],
        input="correct horse battery\n",
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "list", "--data-dir", d])
    assert "ana" in r.output and "investigator" in r.output
    r = runner.invoke(
        app,
        ["users", "add", "ana", "--role", "investigator", "--data-dir", d],
        input="correct horse battery\n",
    )
    assert r.exit_code == 1 and "user_exists" in r.output
    r = runner.invoke(
        app,
        ["users", "add", "bo", "--role", "wizard", "--data-dir", d],
        input="correct horse battery\n",
    )
    assert r.exit_code == 1 and "bad_role" in r.output
    r = runner.invoke(app, ["users", "disable", "ana", "--data-dir", d])
    assert r.exit_code == 0
    assert "yes" in runner.invoke(app, ["users", "list", "--data-dir", d]).output


def test_verify_receipt_offline(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path, tmp_path: Path
) -> None:
    sub_id, auth = witness
    upload(client, auth, video.read_bytes(), name="IMG_0042.mp4")
    receipt = client.get(f"/api/v1/submissions/{sub_id}/receipt?download=1", headers=auth)
    assert receipt.headers["Content-Disposition"].startswith("attachment")
    key = tmp_path / "log.pub"
    key.write_text(client.get("/api/v1/log/public-key").text)
    path = tmp_path / "receipt.json"
    path.write_bytes(receipt.content)

    # The witness's copy has another name than the one uploaded: it is found by its SHA-256.
    local = tmp_path / "big.mp4"
    local.write_bytes(video.read_bytes())
    r = runner.invoke(
        app, ["verify-receipt", str(path), "--public-key", str(key), "--file", str(local)]
    )
    assert r.exit_code == 0, r.output
    assert "all checks passed" in r.output
    assert "[NOT VERIFIED] issued_at" in r.output
    # The download carries the receipt code as the printed receipt does; never repeated.
    assert "[NOT VERIFIED] code" in r.output
    assert json.loads(receipt.content)["code"] not in r.output
    assert "is files[0] 'IMG_0042.mp4'" in r.output

    other = tmp_path / "other.mp4"
    other.write_bytes(b"not the upload")
    r = runner.invoke(
        app, ["verify-receipt", str(path), "--public-key", str(key), "--file", str(other)]
    )
    assert r.exit_code == 1 and "is no proven file of the receipt" in r.output

    for field, value in (("received_at", "2020-01-01T00:00:00.000000Z"), ("name", "x.mp4")):
        forged = json.loads(receipt.content)
        forged["files"][0][field] = value
        path.write_text(json.dumps(forged))
        r = runner.invoke(app, ["verify-receipt", str(path), "--public-key", str(key)])
        assert r.exit_code == 1 and f"files[0].{field}" in r.output, r.output

    forged = json.loads(receipt.content)
    forged["files"][0]["size"] += 1
    path.write_text(json.dumps(forged))
    r = runner.invoke(app, ["verify-receipt", str(path), "--public-key", str(key)])
    assert r.exit_code == 1 and "VERIFICATION FAILED" in r.output

    path.write_text("not json")
    r = runner.invoke(app, ["verify-receipt", str(path)])
    assert r.exit_code == 2


def test_custody_verify_passes_then_catches_an_edit(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path, settings: Any
) -> None:
    from sqlalchemy import text

    from tests.support.custody import drop_append_only_guards

    _, auth = witness
    upload(client, auth, video.read_bytes())
    d = str(settings.data_dir)
    r = runner.invoke(app, ["custody", "verify", "--data-dir", d])
    assert r.exit_code == 0, r.output
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    with rt.sessions() as db:  # the audit read every original: that is on the record
        [audit] = [
            json.loads(e.event)
            for e in custody.entries(db, start=0, end=10_000)
            if json.loads(e.event)["type"] == "log.verified"
        ]
    assert audit["details"]["ok"] is True and audit["details"]["originals_rehashed"] is True
    with client.app.state.runtime.engine.begin() as conn:  # type: ignore[attr-defined]
        drop_append_only_guards(conn)
        conn.execute(text("UPDATE log_entries SET event = :e WHERE seq = 1"), {"e": b"{}"})
    r = runner.invoke(app, ["custody", "verify", "--no-content", "--data-dir", d])
    assert r.exit_code == 1 and "entry 1" in r.output, r.output
