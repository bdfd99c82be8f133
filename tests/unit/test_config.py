"""Every setting is documented in docs/settings.md, and each documented one is real."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from portal.config import Settings
from tests.support import REPO

SETTINGS_DOC = REPO / "docs" / "settings.md"


def env_name(field: str) -> str:
    return "PORTAL_" + field.upper()


def test_every_setting_is_in_the_settings_table() -> None:
    text = SETTINGS_DOC.read_text()
    documented = set(re.findall(r"^\| `(PORTAL_[A-Z0-9_]+)` \|", text, flags=re.M))
    declared = {env_name(f) for f in Settings.model_fields}
    assert declared - documented == set(), "settings missing from docs/settings.md"
    assert documented - declared == set(), "docs/settings.md documents settings that do not exist"


@pytest.mark.parametrize(
    ("field", "raw", "want"),
    [
        ("port", "9001", 9001),
        ("max_upload_size", "1048576", 1048576),
        ("upload_expiry", "3600", timedelta(hours=1)),
        ("upload_lock_lease", "2.5", timedelta(seconds=2.5)),
        ("checkpoint_interval", "PT10M", timedelta(minutes=10)),
        ("access_log", "true", True),
        ("public_url", "https://evidence.example/", "https://evidence.example"),
        ("log_origin", "evidence.example/log", "evidence.example/log"),
        ("media_timeout", "0.5", timedelta(seconds=0.5)),
        ("media_timeout", "PT2M", timedelta(minutes=2)),
        ("media_max_duration", "86400", timedelta(days=1)),
        ("media_memory_limit", "536870912", 512 * 1024**2),
        ("media_cpu_limit", "30", 30),
        ("media_output_limit", "1048576", 1024**2),
        ("media_max_pixels", "1000000", 1_000_000),
        ("media_max_streams", "4", 4),
        ("media_max_attempts", "2", 2),
    ],
)
def test_settings_read_from_environment(
    monkeypatch: pytest.MonkeyPatch, field: str, raw: str, want: object
) -> None:
    monkeypatch.setenv(env_name(field), raw)
    assert getattr(Settings(), field) == want


def test_defaults_are_the_embedded_ones(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'portal.db'}"
    assert s.resolved_storage_url == f"file://{(tmp_path / 'storage').resolve()}"
    assert s.max_upload_size == 20 * 1024**3
    assert s.access_log is False


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_MAX_UPLOAD_SIZE", "0")
    with pytest.raises(ValueError, match="max_upload_size"):
        Settings()


@pytest.mark.parametrize(
    "name",
    [
        "MEDIA_MEMORY_LIMIT",
        "MEDIA_CPU_LIMIT",
        "MEDIA_OUTPUT_LIMIT",
        "MEDIA_MAX_PIXELS",
        "MEDIA_MAX_STREAMS",
        "MEDIA_MAX_ATTEMPTS",
        "MEDIA_TIMEOUT",
        "MEDIA_MAX_DURATION",
    ],
)
def test_media_limits_must_be_positive(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(f"PORTAL_{name}", "0")
    with pytest.raises(ValueError, match=name.lower()):
        Settings()


DURATIONS = [name for name, f in Settings.model_fields.items() if f.annotation is timedelta]


def test_the_duration_list_is_every_duration() -> None:
    # A new duration setting joins the test below by itself; this keeps the list honest.
    assert len(DURATIONS) >= 10


@pytest.mark.parametrize("field", DURATIONS)
@pytest.mark.parametrize(
    ("raw", "want"), [("10", timedelta(seconds=10)), ("PT10S", timedelta(seconds=10))]
)
def test_every_duration_takes_seconds_and_iso8601(
    monkeypatch: pytest.MonkeyPatch, field: str, raw: str, want: timedelta
) -> None:
    # PORTAL_RETENTION_INTERVAL=10, as README documents, once stopped the server starting.
    monkeypatch.setenv(env_name(field), raw)
    assert getattr(Settings(), field) == want


def test_no_proxy_is_trusted_by_default() -> None:
    assert Settings().trusted_proxies == []
