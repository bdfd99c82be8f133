"""Owner-only files (issue: the data folder was 0755, portal.db 0644 and originals 0444, so
any local user could read every video, incident text and GPS)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from portal.app import build_runtime, create_app
from portal.config import Settings
from portal.datadir import UnsafePermissions
from tests.support import REPO
from tests.support.evidence import received


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_everything_the_portal_writes_is_the_owners_alone(tmp_path: Path, video: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        item = received(client, video.read_bytes())
        client.get(f"/api/v1/submissions/{item.submission_id}", headers=item.witness)
    data = settings.data_dir
    assert mode(data) == 0o700
    assert mode(data / "portal.db") == 0o600
    for path in data.rglob("*"):
        assert mode(path) & 0o077 == 0, f"{path} is mode {mode(path):o}"
    original = data / "storage" / "sha256" / item.sha256
    assert original.exists()
    assert mode(original) == 0o400


def test_an_existing_database_is_narrowed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "portal.db").touch(mode=0o644)
    os.chmod(data / "portal.db", 0o644)
    build_runtime(Settings(data_dir=data)).engine.dispose()
    assert mode(data / "portal.db") == 0o600


@pytest.mark.parametrize("open_mode", [0o755, 0o750, 0o701])
def test_start_refuses_a_data_folder_others_can_enter(tmp_path: Path, open_mode: int) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, open_mode)
    with pytest.raises(UnsafePermissions, match="chmod -R go-rwx"):
        build_runtime(Settings(data_dir=data))
    assert list(data.iterdir()) == [], "a refused start creates nothing"


def serve(data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal", "serve", "--data-dir", str(data), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **env},
    )


def test_portal_serve_says_how_to_fix_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    done = serve(data)
    assert done.returncode == 2
    assert f"chmod -R go-rwx {data}" in " ".join(done.stdout.split())


def test_portal_serve_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build_runtime(Settings(data_dir=data)).engine.dispose()
    os.chmod(Settings(data_dir=data).resolved_log_key_file, 0o644)
    done = serve(data)
    assert done.returncode == 2
    assert "chmod 600" in " ".join(done.stdout.split())
