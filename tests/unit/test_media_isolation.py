"""The media parser's child process: limits, timeouts, and what it can see."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from portal.media.isolation import Limits, Outcome, child_env, run, worker_command
from tests.support.hostile_media import corpus
from tests.support.media import make_video

LIMITS = Limits(
    memory_bytes=1024**3,
    cpu_seconds=30,
    output_bytes=16 * 1024**2,
    timeout_seconds=60,
    max_pixels=50_000_000,
    max_streams=32,
    max_duration=86400,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("isolation")


@pytest.fixture(scope="module")
def video(folder: Path) -> Path:
    return make_video(folder / "clip.mp4", seconds=2, size="320x240")


@pytest.fixture(scope="module")
def hostile(folder: Path, video: Path) -> dict[str, bytes]:
    return corpus(folder, video)


def parse(data: bytes, limits: Limits = LIMITS) -> Outcome:
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        return run(f, limits)


def test_a_normal_video_gives_metadata_and_a_poster(video: Path) -> None:
    outcome = parse(video.read_bytes())
    assert outcome.unreadable is None and outcome.error is None
    assert outcome.info is not None and (outcome.info["width"], outcome.info["height"]) == (
        320,
        240,
    )
    assert outcome.poster is not None and outcome.poster.startswith(b"\xff\xd8")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("png-16000x16000-rgba", "over the media limits"),
        ("png-bomb-60000x60000-truncated", "over the media limits"),
        ("jpeg-header-65000x65000", "over the media limits"),
        ("mp4-truncated", "not a readable"),
        ("mov-malformed", "not a readable"),
    ],
)
def test_hostile_files_are_refused_in_the_child(
    hostile: dict[str, bytes], name: str, why: str
) -> None:
    outcome = parse(hostile[name])
    assert outcome.info is None and outcome.poster is None
    assert why in (outcome.unreadable or outcome.error or "")


def test_streams_pixels_and_duration_are_checked_on_the_headers(video: Path) -> None:
    data = video.read_bytes()
    assert "1 streams" in (parse(data, replace(LIMITS, max_streams=0)).unreadable or "")
    assert "320x240 pixels" in (parse(data, replace(LIMITS, max_pixels=1000)).unreadable or "")
    assert "seconds long" in (parse(data, replace(LIMITS, max_duration=1)).unreadable or "")


def test_a_parser_that_overruns_its_time_is_killed(video: Path) -> None:
    outcome = parse(video.read_bytes(), replace(LIMITS, timeout_seconds=0.05))
    assert outcome.unreadable == "the parser took longer than 0.05 s"


def test_the_memory_limit_holds_in_the_child(video: Path) -> None:
    # 48 MiB of address space is too little even to load FFmpeg: the child fails, alone.
    outcome = parse(video.read_bytes(), replace(LIMITS, memory_bytes=48 * 1024**2))
    assert outcome.unreadable is not None and outcome.unreadable.startswith("the parser")


def test_an_image_over_the_pixel_limit_is_never_decoded(hostile: dict[str, bytes]) -> None:
    # With the header check off, the 1 GB picture meets RLIMIT_AS instead: still no poster.
    no_header_check = replace(LIMITS, max_pixels=10**12, memory_bytes=512 * 1024**2)
    outcome = parse(hostile["png-16000x16000-rgba"], no_header_check)
    assert outcome.poster is None


def test_the_child_sees_no_settings_no_keys_and_no_key_modules(
    video: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = folder / "data" / "keys"
    keys.mkdir(parents=True)
    (keys / "contact.key").write_bytes(os.urandom(32))
    monkeypatch.setenv("PORTAL_CONTACT_KEY_FILE", str(keys / "contact.key"))
    monkeypatch.setenv("PORTAL_DATA_DIR", str(folder / "data"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    env = child_env()
    assert not [k for k in env if k.startswith(("PORTAL_", "AWS_"))]

    # Every file the child and FFmpeg open (strace), and every module it imports (-X importtime).
    trace, out = folder / "open.log", folder / "out"
    out.mkdir()
    command = worker_command(LIMITS)
    command[1:1] = ["-X", "importtime"]
    with video.open("rb") as stdin:
        done = subprocess.run(
            ["strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", str(trace), *command],
            stdin=stdin,
            capture_output=True,
            cwd=out,
            env=env,
            timeout=120,
            check=True,
        )
    assert b'"info"' in done.stdout
    imported = set(re.findall(r"\|\s+([\w.]+)\s*$", done.stderr.decode(), re.M))
    assert "portal.media.probe" in imported  # the trace is real
    assert not imported & {"portal.keys", "portal.config", "portal.db", "portal.runtime"}
    assert not [m for m in imported if m.startswith(("cryptography", "sqlalchemy", "boto"))]
    opened = trace.read_text()
    assert "poster.jpg" in opened  # the trace is real
    assert str(folder / "data") not in opened and "contact.key" not in opened
