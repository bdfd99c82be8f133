"""Rotating the contact key: re-encryption in batches that survives a kill, then retirement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from portal.app import create_app
from portal.cli import app as cli
from portal.config import Settings
from portal.keys import contact_cipher, contact_keys, rate_limit_key, recipient_key
from portal.submissions.models import Submission
from tests.support.api import CONTACT, new_submission, runtime
from tests.support.custody import of_type
from tests.support.servers import fresh_database

runner = CliRunner()
KILL = """
import os, signal, sys
from portal.app import build_runtime
from portal.config import Settings
from portal.flows import key_rotation as kr
rt = build_runtime(Settings(data_dir=sys.argv[1], database_url=sys.argv[3]))
def die(*_):
    os.kill(os.getpid(), signal.SIGKILL)
if sys.argv[2] == "before-batches":
    kr._batch = die
kr.rotate_contact_key(rt, batch=2, progress=lambda n: die() if n >= 2 else None)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    url = ""
    if request.param == "postgresql":
        url = fresh_database(request.getfixturevalue("postgres_url"))
        monkeypatch.setenv("PORTAL_DATABASE_URL", url)  # for the commands
    s = Settings(data_dir=tmp_path / "data", database_url=url)
    with TestClient(create_app(s)) as client:
        for _ in range(5):
            new_submission(client, contact=CONTACT)
    return s


def tokens(settings: Settings) -> list[bytes]:
    with TestClient(create_app(settings)) as client, runtime(client).readers() as db:
        rows = db.scalars(select(Submission.contact_encrypted).order_by(Submission.id))
        return [t for t in rows if t is not None]


def opens(key: bytes, token: bytes) -> bool:
    try:
        Fernet(key).decrypt(token)
    except InvalidToken:
        return False
    return True


def kill_rotation(settings: Settings, where: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, "-c", KILL, str(settings.data_dir), where, settings.database_url],
        env=env,
        check=False,
    )
    assert proc.returncode == -9


def cli_run(settings: Settings, *args: str) -> tuple[int, str]:
    r = runner.invoke(cli, ["keys", *args, "--data-dir", str(settings.data_dir)])
    return r.exit_code, r.output


def log_events(settings: Settings, type: str) -> list[dict[str, object]]:
    with TestClient(create_app(settings)) as client:
        return of_type(client, type)


@pytest.mark.parametrize("where", ["before-batches", "after-one-batch"])
def test_a_killed_rotation_resumes_and_the_old_key_retires(settings: Settings, where: str) -> None:
    path = settings.resolved_contact_key_file
    (old,) = contact_keys(path)
    derived = rate_limit_key(path), recipient_key(path)
    kill_rotation(settings, where)

    new = contact_keys(path)[0]
    assert contact_keys(path) == [new, old]
    under_new = sum(opens(new, t) for t in tokens(settings))
    assert under_new == (0 if where == "before-batches" else 2)
    cipher = contact_cipher(path)  # in the middle every record still opens
    assert all(json.loads(cipher.decrypt(t))["phone"] == CONTACT["phone"] for t in tokens(settings))
    assert log_events(settings, "key.contact_rotated") == []

    code, out = cli_run(settings, "rotate-contact")
    assert code == 0, out
    assert f"{5 - under_new} records re-encrypted, {under_new} already" in out
    assert all(opens(new, t) and not opens(old, t) for t in tokens(settings))
    (event,) = log_events(settings, "key.contact_rotated")
    assert event["details"] == {"key": event["subject"], "reencrypted": 5 - under_new,
                                "already": under_new}  # fmt: skip
    assert old.decode() not in json.dumps(event) and new.decode() not in json.dumps(event)

    code, out = cli_run(settings, "retire-contact")
    assert code == 0 and "removed 1 old" in out, out
    assert contact_keys(path) == [new]
    assert len(log_events(settings, "key.contact_retired")) == 1
    assert (rate_limit_key(path), recipient_key(path)) == derived
    assert all(json.loads(contact_cipher(path).decrypt(t)) for t in tokens(settings))


def test_retiring_refused_while_records_need_the_old_key(settings: Settings) -> None:
    path = settings.resolved_contact_key_file
    code, out = cli_run(settings, "retire-contact")
    assert code == 1 and "rotation_refused" in out and "one key" in out, out

    kill_rotation(settings, "after-one-batch")
    before = path.read_bytes()
    code, out = cli_run(settings, "retire-contact")
    assert code == 1 and "3 sealed witness values still need an old key" in out, out
    assert path.read_bytes() == before
    assert log_events(settings, "key.contact_retired") == []


def test_a_running_portal_follows_the_rotation(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        code, out = cli_run(settings, "rotate-contact")
        assert code == 0, out
        sub_id, _ = new_submission(client, contact=CONTACT)
        with runtime(client).readers() as db:
            token = db.get(Submission, sub_id).contact_encrypted  # type: ignore[union-attr]
        new = contact_keys(settings.resolved_contact_key_file)[0]
        assert token is not None and opens(new, token)


def test_incident_text_is_rotated_with_the_contact_details(settings: Settings) -> None:
    """Incident text is sealed under the same key: a rotation re-seals it, and the old key
    retires only once it opens without it."""
    path = settings.resolved_contact_key_file
    incident = {"place": "Calle Mayor 1", "description": "desde el balcón"}
    with TestClient(create_app(settings)) as client:
        new_submission(client, incident=incident)
    (old,) = contact_keys(path)
    code, out = cli_run(settings, "rotate-contact")
    assert code == 0 and "6 records re-encrypted, 0 already" in out, out
    new = contact_keys(path)[0]
    with TestClient(create_app(settings)) as client, runtime(client).readers() as db:
        (sealed,) = [t for t in db.scalars(select(Submission.incident_encrypted)) if t]
    assert opens(new, sealed) and not opens(old, sealed)
    code, out = cli_run(settings, "retire-contact")
    assert code == 0, out
    assert json.loads(contact_cipher(path).decrypt(sealed)) == incident
