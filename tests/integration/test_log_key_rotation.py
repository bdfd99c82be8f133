"""Rotating the log signing key: a transition both keys sign, resumable after a kill."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from portal.app import create_app
from portal.cli import app as cli
from portal.config import Settings
from portal.custody import monitor, note, remote
from portal.custody.receipt import verify_receipt
from portal.custody.rotation import Transition, TransitionError, follow
from portal.flows.log_key_rotation import transitions
from tests.support.api import new_submission, runtime
from tests.support.custody import of_type
from tests.support.uploads import upload

runner = CliRunner()
KILL = """
import os, signal, sys
from portal.app import build_runtime
from portal.config import Settings
from portal.flows import log_key_rotation as lkr
rt = build_runtime(Settings(data_dir=sys.argv[1]))
def die(*_):
    os.kill(os.getpid(), signal.SIGKILL)
setattr(lkr, sys.argv[2], die)
lkr.rotate_log_key(rt)
"""


def receipt(client: TestClient, video: Path, name: str) -> dict[str, Any]:
    sub_id, token = new_submission(client)
    auth = {"Authorization": f"Bearer {token}"}
    upload(client, auth, video.read_bytes(), name=name)
    runtime(client).sign_checkpoint()
    got: dict[str, Any] = client.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).json()
    return got


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def rotate(settings: Settings) -> str:
    r = runner.invoke(cli, ["keys", "rotate-log", "--data-dir", str(settings.data_dir)])
    assert r.exit_code == 0, r.output
    return r.output


def killed(settings: Settings, at: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run(
        [sys.executable, "-c", KILL, str(settings.data_dir), at], env=env, check=False
    )
    assert proc.returncode == -9


def audit_ok(settings: Settings) -> None:
    r = runner.invoke(
        cli, ["custody", "verify", "--no-content", "--data-dir", str(settings.data_dir)]
    )
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("kill_at", [None, "_commit_transition", "_keep_previous"])
def test_rotation_keeps_old_receipts_and_hands_over_through_the_transition(
    settings: Settings, video: Path, kill_at: str | None
) -> None:
    with TestClient(create_app(settings)) as client:
        old_key = runtime(client).log_verifier
        before = receipt(client, video, "before.mp4")
    key_file = settings.resolved_log_key_file
    old_signer = key_file.read_text()
    if kill_at is not None:
        killed(settings, kill_at)
        assert key_file.read_text() == old_signer  # the old key signs until the handover
    rotate(settings)
    assert not key_file.with_name("log.key.next").exists()
    assert key_file.with_name("log.key.previous").read_text().split() == [old_key]

    with TestClient(create_app(settings)) as client:
        rt = runtime(client)
        new_key = rt.log_verifier
        assert new_key != old_key and rt.check_log()
        assert len(of_type(client, "key.log_rotated")) == 1  # never signed twice
        assert verify_receipt(before, old_key).ok
        after = receipt(client, video, "after.mp4")
        assert verify_receipt(after, new_key).ok
        assert not verify_receipt(after, old_key).ok  # the old key alone does not reach it
        (published,) = client.get("/api/v1/log/key-transitions").json()
        transition = Transition.from_json(published)  # what an outsider is given
        assert follow(old_key, transition) == new_key
        assert client.get("/api/v1/log/public-key").text.strip() == new_key
        # The transition's checkpoint is the one both keys signed.
        note.open_note(transition.checkpoint, old_key)
        note.open_note(transition.checkpoint, new_key)
    audit_ok(settings)


def test_a_second_rotation_and_the_audit_follow_the_chain(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        first = runtime(client).log_verifier
    rotate(settings)
    rotate(settings)
    with TestClient(create_app(settings)) as client:
        rt = runtime(client)
        one, two = transitions(rt)
        assert follow(follow(first, one), two) == rt.log_verifier
    audit_ok(settings)


def test_a_transition_that_does_not_prove_the_move_is_refused(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        old_key = runtime(client).log_verifier
    rotate(settings)
    with TestClient(create_app(settings)) as client:
        rt = runtime(client)
        (t,) = transitions(rt)
        new_key = rt.log_verifier
    stranger = note.verifier_from_signer(note.generate_signer("someone.example/log"))
    text, sigs = note.split_note(t.checkpoint)
    cases: list[tuple[str, Transition]] = [
        ("trusted key", dataclasses.replace(t, checkpoint=f"{text}\n{sigs[1]}\n")),
        ("new key", dataclasses.replace(t, checkpoint=f"{text}\n{sigs[0]}\n")),
        ("not in the checkpoint", dataclasses.replace(t, event=t.event.replace(b"old", b"olD"))),
        ("not in the checkpoint", dataclasses.replace(t, index=t.index - 1)),
    ]
    for words, bad in cases:
        with pytest.raises(TransitionError, match=words):
            follow(old_key, bad)
    with pytest.raises(TransitionError, match="trusted key"):
        follow(stranger, t)
    with pytest.raises(TransitionError, match="trusted key"):
        follow(new_key, t)  # a transition only ever leads forward
    assert Transition.from_json(t.to_json()) == t


def test_a_monitor_holding_the_old_key_follows_only_a_proven_transition(
    settings: Settings, video: Path, tmp_path: Path
) -> None:
    state = tmp_path / "monitor"
    when = datetime(2030, 1, 1, tzinfo=UTC)
    with TestClient(create_app(settings)) as client:
        old_key = runtime(client).log_verifier
        receipt(client, video, "seen.mp4")
        monitor.run("http://testserver", key=old_key, state=state, now=when, client=client)
    rotate(settings)
    with TestClient(create_app(settings)) as client:
        receipt(client, video, "later.mp4")
        out = monitor.run("http://testserver", key=old_key, state=state, now=when, client=client)
        assert any("key rotated" in line for line in out.lines), out.lines
        assert (state / "key").read_text().split() == [old_key, runtime(client).log_verifier]
        # The next run goes on with the new key; a stranger's key finds no way in.
        monitor.run("http://testserver", key=old_key, state=state, now=when, client=client)
        stranger = note.verifier_from_signer(note.generate_signer("portal.invalid/custody"))
        with pytest.raises(remote.RemoteError, match="signature or format INVALID"):
            monitor.run(
                "http://testserver", key=stranger, state=tmp_path / "other", now=when, client=client
            )
