"""`portal backup` and `portal restore` on the embedded default, taken while it runs."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from portal.app import create_app
from portal.cli import app as cli
from portal.config import Settings
from portal.custody.receipt import verify_receipt
from portal.ops.backup import MANIFEST, sha256_file
from tests.support.api import CONTACT, new_submission, runtime
from tests.support.custody import of_type
from tests.support.uploads import create_upload, patch, upload

runner = CliRunner()


def tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_file(p) for p in folder.rglob("*") if p.is_file()
    }


def cli_run(*args: str) -> tuple[int, str]:
    """Exit code and output, its whitespace flattened: the console wraps long paths to its
    width, which would split the words the tests look for."""
    r = runner.invoke(cli, list(args))
    out = r.output + (r.stderr if r.stderr_bytes is not None else "")
    return r.exit_code, " ".join(out.split())


def receipt_ok(client: TestClient, sub_id: str, auth: dict[str, str], files: int) -> None:
    receipt = client.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).json()
    report = verify_receipt(receipt, runtime(client).log_verifier)
    assert report.ok, report.text()
    assert len(receipt["files"]) == files


@pytest.fixture
def live(tmp_path: Path, video: Path) -> Iterator[tuple[TestClient, dict[str, object]]]:
    """A running portal: one received file, and a second upload stopped halfway."""
    settings = Settings(data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        sub_id, token = new_submission(client, contact=CONTACT)
        auth = {"Authorization": f"Bearer {token}"}
        upload(client, auth, video.read_bytes(), name="first.mp4")
        data = video.read_bytes()
        url = create_upload(client, auth, len(data), name="second.mp4")
        half = len(data) // 2
        assert patch(client, url, auth, 0, data[:half]).status_code == 204
        runtime(client).sign_checkpoint()
        yield client, {"sub": sub_id, "auth": auth, "url": url, "half": half, "data": data}


def test_backup_during_upload_restores_verifies_and_resumes(
    tmp_path: Path, live: tuple[TestClient, dict[str, object]]
) -> None:
    client, s = live
    data_dir = str(tmp_path / "data")
    code, out = cli_run("backup", str(tmp_path / "copy"), "--data-dir", data_dir)
    assert code == 0, out
    # Copying every original out is a touch of evidence: the live log says so.
    (taken,) = of_type(client, "backup.taken")
    manifest = tmp_path / "copy" / "manifest.json"
    assert taken["details"]["manifest_sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    # The running portal moves on after the backup: the copy must not follow it.
    auth, url, half, data = s["auth"], s["url"], s["half"], s["data"]
    assert isinstance(auth, dict) and isinstance(url, str) and isinstance(half, int)
    assert isinstance(data, bytes)
    assert patch(client, url, auth, half, data[half : half + 1000]).status_code == 204

    code, out = cli_run("restore", str(tmp_path / "copy"), "--data-dir", str(tmp_path / "back"))
    assert code == 0, out
    with TestClient(create_app(Settings(data_dir=tmp_path / "back"))) as restored:
        assert runtime(restored).check_log()
        receipt_ok(restored, str(s["sub"]), auth, files=1)
        head = restored.head(url, headers={"Tus-Resumable": "1.0.0", **auth})
        assert head.headers["Upload-Offset"] == str(half)
        assert patch(restored, url, auth, half, data[half:]).status_code == 204
        receipt_ok(restored, str(s["sub"]), auth, files=2)
        runtime(restored).sign_checkpoint()
        receipt_ok(restored, str(s["sub"]), auth, files=2)


def test_bad_destinations_are_refused(
    tmp_path: Path, live: tuple[TestClient, dict[str, object]]
) -> None:
    data_dir = tmp_path / "data"
    (tmp_path / "exists").mkdir()
    for dest, words in (
        (tmp_path / "exists", "exists"),
        (data_dir / "inside", "inside the data folder"),
        (data_dir, "exists"),
        (tmp_path / "no" / "parent", "does not exist"),
    ):
        code, out = cli_run("backup", str(dest), "--data-dir", str(data_dir))
        assert code == 1 and "backup_refused" in out and words in out, out
    assert not (data_dir / "inside").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "exists"]


def _backup(tmp_path: Path, name: str = "copy") -> Path:
    code, out = cli_run("backup", str(tmp_path / name), "--data-dir", str(tmp_path / "data"))
    assert code == 0, out
    return tmp_path / name


def _restore_refused(tmp_path: Path, src: Path, target: Path, words: str) -> None:
    before = tree(target) if target.exists() else None
    code, out = cli_run("restore", str(src), "--data-dir", str(target))
    assert code == 1 and words in out, out
    assert (tree(target) if target.exists() else None) == before
    assert not target.with_name(target.name + ".restoring").exists()


def _relist(backup: Path, name: str) -> None:
    """Rewrite the manifest to match an edited file, as a careful forger would."""
    manifest = json.loads((backup / MANIFEST).read_text())
    manifest["files"][name] = sha256_file(backup / name)
    (backup / MANIFEST).write_text(json.dumps(manifest))


def test_partial_and_tampered_backups_are_refused(
    tmp_path: Path, live: tuple[TestClient, dict[str, object]]
) -> None:
    target = tmp_path / "back"
    src = _backup(tmp_path)
    original = next(p for p in (src / "storage" / "sha256").iterdir())

    no_manifest = tmp_path / "no-manifest"
    shutil.copytree(src, no_manifest)
    (no_manifest / MANIFEST).unlink()
    _restore_refused(tmp_path, no_manifest, target, "partial")

    missing = tmp_path / "missing"
    shutil.copytree(src, missing)
    (missing / "storage" / "sha256" / original.name).unlink()
    _restore_refused(tmp_path, missing, target, "partial")

    altered = tmp_path / "altered"
    shutil.copytree(src, altered)
    path = altered / "storage" / "sha256" / original.name
    path.chmod(0o600)
    path.write_bytes(b"x" + path.read_bytes()[1:])
    _restore_refused(tmp_path, altered, target, "altered")
    _relist(altered, f"storage/sha256/{original.name}")
    _restore_refused(tmp_path, altered, target, "does not hash to its name")

    forged = tmp_path / "forged"
    shutil.copytree(src, forged)
    remembered = forged / "keys" / "log.checkpoint"
    lines = remembered.read_text().split("\n")
    lines[1] = str(int(lines[1]) - 1)
    remembered.write_text("\n".join(lines))
    _relist(forged, "keys/log.checkpoint")
    _restore_refused(tmp_path, forged, target, "does not verify")

    code, out = cli_run("restore", str(src), "--data-dir", str(target))
    assert code == 0, out


def test_restore_refuses_to_roll_a_newer_log_back(
    tmp_path: Path, live: tuple[TestClient, dict[str, object]]
) -> None:
    client, _ = live
    old = _backup(tmp_path, "old")
    new_submission(client)  # the log grows past the backup's

    runtime(client).sign_checkpoint()
    _restore_refused(tmp_path, old, tmp_path / "data", "log_newer")
    # A newer backup over the same folder is fine, and the folder it replaces is kept aside.
    client.close()
    code, out = cli_run(
        "restore", str(_backup(tmp_path, "new")), "--data-dir", str(tmp_path / "data")
    )
    assert code == 0 and "kept at" in out, out
    assert len(list(tmp_path.glob("data.before-restore-*"))) == 1
