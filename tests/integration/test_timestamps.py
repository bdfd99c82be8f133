"""RFC 3161 timestamps of checkpoints, against a real TSA (`openssl ts -reply`) on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from portal.app import create_app
from portal.cli import app
from portal.config import Settings
from portal.custody import timestamp as timestamp_mod
from portal.custody import tsa as tsa_mod
from portal.export.verify import verify_bundle
from tests.support.api import new_submission, runtime, staff_login
from tests.support.evidence import received
from tests.support.tsa import Tsa, make_ca, stamped_receipt, start_tsa
from tests.support.uploads import upload

runner = CliRunner()
COURT = {"version": "1", "scopes": ["investigation", "prosecution"], "language": "es"}


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[Tsa]:
    with start_tsa(tmp_path / "tsa") as t:
        yield t


@pytest.fixture
def stamped(settings: Settings, tsa: Tsa) -> Iterator[TestClient]:
    s = settings.model_copy(update={"tsa_url": tsa.url, "tsa_ca_bundle": tsa.ca})
    with TestClient(create_app(s)) as c:
        yield c


def _receipt(client: TestClient, video: Path) -> tuple[str, dict[str, str]]:
    sub_id, token = new_submission(client)
    auth = {"Authorization": f"Bearer {token}"}
    upload(client, auth, video.read_bytes())
    return sub_id, auth


def _verify(tmp_path: Path, receipt: dict[str, Any], *extra: str) -> Any:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    return runner.invoke(app, ["verify-receipt", str(path), *extra])


@pytest.mark.both_backends
def test_receipt_timestamp_verifies_offline(
    stamped: TestClient, tsa: Tsa, video: Path, tmp_path: Path
) -> None:
    sub_id, auth = _receipt(stamped, video)
    receipt = stamped_receipt(stamped, sub_id, auth)
    key = stamped.get("/api/v1/log/public-key").text.strip()

    r = _verify(tmp_path, receipt, "--public-key", key, "--tsa-ca", str(tsa.ca))
    assert r.exit_code == 0, r.output
    assert "timestamp valid: the checkpoint existed at" in r.output
    # The delay between the portal's signing and the token is shown, as the portal's claim.
    assert "NOT VERIFIED] timestamp.checkpoint_signed_at" in r.output
    assert "genTime is" in r.output

    # Without a trusted TSA certificate the time is shown, never as verified.
    r = _verify(tmp_path, receipt, "--public-key", key)
    assert r.exit_code == 0, r.output
    assert "NOT VERIFIED] timestamp: genTime" in r.output
    assert "timestamp valid" not in r.output

    # The public route serves the same token.
    size = tsa_mod.parse(base64.b64decode(receipt["timestamp"]["token"]))
    assert size.status == 0


def test_a_token_from_an_untrusted_tsa_fails(
    stamped: TestClient, video: Path, tmp_path: Path
) -> None:
    sub_id, auth = _receipt(stamped, video)
    receipt = stamped_receipt(stamped, sub_id, auth)
    other_ca, _ = make_ca(tmp_path / "other-ca", cn="Someone Else")
    r = _verify(tmp_path, receipt, "--tsa-ca", str(other_ca))
    assert r.exit_code == 1
    assert "timestamp INVALID: the token's signature does not verify" in r.output


def test_a_token_for_another_checkpoint_fails(
    stamped: TestClient, tsa: Tsa, video: Path, tmp_path: Path
) -> None:
    sub_id, auth = _receipt(stamped, video)
    receipt = stamped_receipt(stamped, sub_id, auth)
    # Another, genuine token of the same TSA, but over another message.
    other = timestamp_mod.request(tsa.url, b"another checkpoint", roots=None, timeout=10)
    receipt["timestamp"]["token"] = base64.b64encode(other).decode()
    r = _verify(tmp_path, receipt, "--tsa-ca", str(tsa.ca))
    assert r.exit_code == 1
    assert "timestamp INVALID: the token is for another message" in r.output
    receipt["timestamp"]["token"] = "bm90IGEgdG9rZW4="
    r = _verify(tmp_path, receipt, "--tsa-ca", str(tsa.ca))
    assert r.exit_code == 1
    assert "timestamp INVALID: not an RFC 3161 timestamp response" in r.output


def test_a_tsa_that_is_down_never_blocks_an_upload(
    stamped: TestClient, tsa: Tsa, video: Path
) -> None:
    tsa.mode = "down"
    sub_id, auth = _receipt(stamped, video)
    receipt = stamped.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth)
    assert receipt.status_code == 200 and "timestamp" not in receipt.json()
    assert runtime(stamped).timestamp_checkpoints() == 0
    # The TSA comes back: the periodic sweep stamps what was left.
    tsa.mode = "ok"
    body = stamped_receipt(stamped, sub_id, auth)
    assert body["timestamp"]["checkpoint_signed_at"]


def test_a_tsa_that_hangs_delays_no_upload_and_is_asked_again(
    settings: Settings, tsa: Tsa, video: Path
) -> None:
    """The TSA accepts the connection and never answers: uploads finish well within the TSA
    timeout, the wait ends at the timeout, and the checkpoint is stamped once it answers."""
    timeout = 3.0
    s = settings.model_copy(
        update={"tsa_url": tsa.url, "tsa_ca_bundle": tsa.ca, "tsa_timeout": timeout}
    )
    tsa.mode = "hang"
    with TestClient(create_app(s)) as client:
        for _ in range(2):
            started = time.monotonic()
            sub_id, auth = _receipt(client, video)
            assert time.monotonic() - started < timeout
        for _ in range(100):  # the thread after the upload is waiting on the TSA
            if tsa.requests:
                break
            time.sleep(0.05)
        assert tsa.requests
        receipt = client.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).json()
        assert "timestamp" not in receipt
        # A sweep while the TSA hangs gives up at the timeout, storing nothing.
        started = time.monotonic()
        assert runtime(client).timestamp_checkpoints() == 0
        assert time.monotonic() - started < timeout + 5
        size = runtime(client).sign_checkpoint().size
        assert client.get(f"/api/v1/log/timestamp/{size}").status_code == 404
        # The TSA answers again: the checkpoint is stamped later, the delay shown.
        tsa.mode = "ok"
        body = stamped_receipt(client, sub_id, auth)
        token = base64.b64decode(body["timestamp"]["token"])
        gen_time = tsa_mod.check(
            token, body["checkpoint"].encode(), roots=tsa_mod.load_roots(tsa.ca)
        )
        assert gen_time.isoformat() > body["timestamp"]["checkpoint_signed_at"][:19]


@pytest.mark.parametrize("mode", ["other_imprint", "garbage"])
def test_a_wrong_tsa_answer_is_refused_and_nothing_stored(
    stamped: TestClient, tsa: Tsa, video: Path, mode: Any
) -> None:
    tsa.mode = mode
    sub_id, auth = _receipt(stamped, video)
    assert runtime(stamped).timestamp_checkpoints() == 0
    size = runtime(stamped).sign_checkpoint().size
    assert stamped.get(f"/api/v1/log/timestamp/{size}").status_code == 404
    body = stamped.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).json()
    assert "timestamp" not in body


def test_tsa_answers_are_checked(tsa: Tsa) -> None:
    roots = tsa_mod.load_roots(tsa.ca)
    answer = timestamp_mod.request(tsa.url, b"checkpoint", roots=roots, timeout=10)
    assert tsa_mod.check(answer, b"checkpoint", roots=roots)
    with pytest.raises(tsa_mod.TimestampError, match="another message"):
        tsa_mod.check(answer, b"another", roots=roots)
    tsa.mode = "other_imprint"
    with pytest.raises(tsa_mod.TimestampError, match="another message"):
        timestamp_mod.request(tsa.url, b"checkpoint", roots=roots, timeout=10)
    tsa.mode = "garbage"
    with pytest.raises(tsa_mod.TimestampError, match="not an RFC 3161 timestamp response"):
        timestamp_mod.request(tsa.url, b"checkpoint", roots=roots, timeout=10)
    tsa.mode = "down"
    with pytest.raises(tsa_mod.TimestampError, match="HTTP 503"):
        timestamp_mod.request(tsa.url, b"checkpoint", roots=roots, timeout=10)
    with pytest.raises(tsa_mod.TimestampError, match="did not answer"):
        timestamp_mod.request("http://127.0.0.1:9/", b"checkpoint", roots=roots, timeout=2)


def test_court_bundle_carries_the_checkpoint_timestamp(
    stamped: TestClient, tsa: Tsa, video: Path, tmp_path: Path
) -> None:
    item = received(stamped, video.read_bytes(), consent=COURT)
    staff = staff_login(stamped, "investigator")
    r = stamped.post("/api/v1/cases", json={"title": "Balcony"}, headers=staff)
    case_id = r.json()["id"]
    r = stamped.post(
        f"/api/v1/cases/{case_id}/evidence", json={"evidence_id": item.id}, headers=staff
    )
    assert r.status_code == 204, r.text
    r = stamped.post(f"/api/v1/cases/{case_id}/exports", headers=staff)
    assert r.status_code == 200, r.text
    path = tmp_path / "bundle.zip"
    path.write_bytes(r.content)
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["timestamp"]["token"]
    key = runtime(stamped).log_verifier
    report = verify_bundle(path, key, tsa_mod.load_roots(tsa.ca))
    assert report.ok, report.text()
    assert "timestamp valid: the checkpoint existed at" in report.text()
    unverified = verify_bundle(path, key)
    assert unverified.ok and "NOT VERIFIED] timestamp: genTime" in unverified.text()
    other_ca, _ = make_ca(tmp_path / "other-ca", cn="Someone Else")
    refused = verify_bundle(path, key, tsa_mod.load_roots(other_ca))
    assert not refused.ok and "timestamp INVALID" in refused.text()
