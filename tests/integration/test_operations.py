"""Health, readiness, metrics and JSON logs (issue 22): what a load balancer and monitoring
ask, answered without witness data."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from portal.app import create_app
from portal.config import Settings
from portal.ops.logs import JsonFormatter
from tests.support.api import CONTACT, INCIDENT, new_submission, staff_login
from tests.support.uploads import upload

TOKEN = "metrics-token-for-tests"


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Make a folder unwritable even for root (the tests run as root, so modes do not)."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.both_backends
def test_healthz_and_readyz_answer_with_parts_named(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "alive"}
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ready"] is True
    assert set(body["checks"]) == {"database", "storage", "signing_key", "log", "free_space"}
    assert all(c["ok"] and c["detail"] == "" for c in body["checks"].values())
    assert r.headers["cache-control"] == "no-store"


def test_readyz_fails_while_storage_is_read_only_and_recovers(tmp_path: Path, video: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        partials = settings.data_dir / "storage" / "partial"
        assert partials.is_dir()
        with immutable(partials):
            r = client.get("/readyz")
            assert r.status_code == 503, r.text
            checks = r.json()["checks"]
            assert checks["storage"]["ok"] is False and checks["storage"]["detail"]
            assert checks["database"]["ok"] and checks["signing_key"]["ok"]
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["ready"] is True
        # The probe leaves nothing behind.
        assert list(partials.iterdir()) == []


def test_readyz_names_a_disk_under_the_floor(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", min_free_space=1 << 60)
    with TestClient(create_app(settings)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        checks = r.json()["checks"]
        assert (
            not checks["free_space"]["ok"]
            and "PORTAL_MIN_FREE_SPACE" in checks["free_space"]["detail"]
        )
        assert checks["storage"]["ok"] and checks["log"]["ok"]


def metric_values(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


def test_metrics_are_off_by_default(client: TestClient) -> None:
    r = client.get("/metrics")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


@pytest.mark.both_backends
def test_metrics_ask_for_the_token_and_move_with_uploads(settings: Settings, video: Path) -> None:
    settings = settings.model_copy(update={"metrics_token": TOKEN})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings)) as client:
        for wrong in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN + "x"}):
            r = client.get("/metrics", headers=wrong)
            assert r.status_code == 401 and r.json()["error"], r.text
        before = metric_values(client.get("/metrics", headers=auth).text)
        sub_id, token = new_submission(client, contact=CONTACT, incident=INCIDENT)
        data = video.read_bytes()
        upload(client, {"Authorization": f"Bearer {token}"}, data, name="IMG_0042.mp4")
        r = client.post("/api/v1/auth/login", data={"username": "nobody", "password": "x" * 12})
        assert r.status_code == 401
        r = client.get("/metrics", headers=auth)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        after = metric_values(r.text)

    def grew(name: str, by: float = 1) -> bool:
        return after.get(name, 0) - before.get(name, 0) >= by

    assert grew("portal_uploads_started_total{}")
    assert grew("portal_uploads_finished_total{}")
    assert grew("portal_bytes_received_total{}", len(data))
    assert grew("portal_patch_seconds_count{}")
    assert grew("portal_finalise_seconds_count{}")
    assert grew("portal_custody_appends_total{type=upload.completed}")
    assert grew("portal_login_failures_total{reason=unknown_account}")
    assert after["portal_log_size{}"] > 0
    assert "portal_checkpoint_age_seconds{}" in after
    # No label or value names the witness, the file or an id.
    for secret in (sub_id, token, "IMG_0042", CONTACT["name"], INCIDENT["place"], "testclient"):
        assert secret not in r.text


def test_json_logs_carry_the_request_id_and_no_address(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings.model_copy(update={"log_format": "json", "access_log": True})
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.INFO):
        _, token = new_submission(client)
        r = client.get(f"/web/status?code={token}")
        request_id = r.headers["x-request-id"]
        admin = staff_login(client, "admin")
        client.get("/api/v1/users", headers=admin)
    lines = [JsonFormatter().format(rec) for rec in caplog.records if rec.name == "portal.access"]
    parsed = [json.loads(line) for line in lines]
    assert any(p["request_id"] == request_id for p in parsed)
    assert {"method", "route", "status", "ms", "time", "level"} <= set(parsed[0])
    text = "\n".join(lines)
    assert token not in text and "testclient" not in text and "Bearer" not in text
    assert "/api/v1/users" in text
