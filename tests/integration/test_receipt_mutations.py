"""Every alteration of a real receipt fails verification or is reported as not verified.

The receipt is made through the API for two uploaded files; then each JSON value is changed,
given the wrong type, removed, joined by an extra field, and each list whose order matters is
reordered, one alteration at a time. An alteration escapes if the verifier still passes and
does not name the altered field among those it could not verify.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.custody import tsa
from portal.custody.offline import Report
from portal.custody.receipt import verify_receipt
from tests.support.api import new_submission
from tests.support.mutations import mutations, other
from tests.support.tsa import stamped_receipt, start_tsa
from tests.support.uploads import padded, upload

pytestmark = pytest.mark.both_backends

Receipt = dict[str, Any]

# The receipt asserts each listed file was received, not the order they are listed in.
UNORDERED = frozenset({"files"})


def escaped(report: Report, path: str) -> bool:
    return report.ok and path not in {p for p, _ in report.unverified}


@pytest.fixture
def real_receipt(
    client: TestClient, witness: tuple[str, dict[str, str]], video: Path
) -> tuple[Receipt, str]:
    sub_id, auth = witness
    upload(client, auth, video.read_bytes(), name="IMG_0042.mp4")
    upload(client, auth, padded(video, video.stat().st_size + 64), name="IMG_0043.mp4")
    r = client.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth)
    assert r.status_code == 200, r.text
    key = client.get("/api/v1/log/public-key").text.strip()
    return r.json(), key


@pytest.fixture
def timestamped_receipt(
    settings: Settings, video: Path, tmp_path: Path
) -> Iterator[tuple[Receipt, str, list[x509.Certificate]]]:
    """A real receipt whose checkpoint carries an RFC 3161 token from a TSA on 127.0.0.1."""
    with start_tsa(tmp_path / "tsa") as authority:
        s = settings.model_copy(update={"tsa_url": authority.url, "tsa_ca_bundle": authority.ca})
        with TestClient(create_app(s)) as client:
            sub_id, token = new_submission(client)
            auth = {"Authorization": f"Bearer {token}"}
            upload(client, auth, video.read_bytes(), name="IMG_0042.mp4")
            receipt = stamped_receipt(client, sub_id, auth)
            key = client.get("/api/v1/log/public-key").text.strip()
        yield receipt, key, tsa.load_roots(authority.ca)


def _escapes(
    receipt: Receipt, key: str, roots: Sequence[x509.Certificate] | None = None
) -> tuple[int, list[str]]:
    found = list(mutations(receipt, unordered=UNORDERED))
    escapes = []
    for path, what, edit in found:
        altered = copy.deepcopy(receipt)
        edit(altered)
        if altered == receipt:
            continue
        # Through JSON, as a receipt reaches the verifier.
        report = verify_receipt(json.loads(json.dumps(altered)), key, tsa_roots=roots)
        if escaped(report, path):
            escapes.append(f"{what} at {path}")
    return len(found), escapes


def test_the_real_receipt_verifies(real_receipt: tuple[Receipt, str]) -> None:
    receipt, key = real_receipt
    report = verify_receipt(receipt, key)
    assert report.ok, report.text()
    assert {p for p, _ in report.unverified} == {"issued_at", "files"}
    assert "[NOT VERIFIED] issued_at" in report.text()


def test_every_alteration_fails_or_is_unverified(real_receipt: tuple[Receipt, str]) -> None:
    receipt, key = real_receipt
    count, escapes = _escapes(receipt, key)
    assert count > 150  # the walk reached every field of both files and the consent
    assert not escapes, escapes


def test_every_alteration_of_a_timestamped_receipt_fails_or_is_unverified(
    timestamped_receipt: tuple[Receipt, str, list[x509.Certificate]],
) -> None:
    receipt, key, roots = timestamped_receipt
    report = verify_receipt(receipt, key, tsa_roots=roots)
    assert report.ok, report.text()
    assert "timestamp valid" in report.text()
    assert set(receipt["timestamp"]) == {"token", "checkpoint_signed_at"}
    count, escapes = _escapes(receipt, key, roots)
    assert count > 100
    assert not escapes, escapes


@pytest.mark.parametrize(
    "field",
    ["received_at", "name", "media_type"],
)
def test_issue_reproductions_file_fields(real_receipt: tuple[Receipt, str], field: str) -> None:
    receipt, key = real_receipt
    receipt["files"][0][field] = other(receipt["files"][0][field])
    assert not verify_receipt(receipt, key).ok


@pytest.mark.parametrize(
    ("field", "value"),
    [("version", "0"), ("scopes", ["investigation"]), ("language", "xx"), ("sha256", "0" * 64)],
)
def test_issue_reproductions_consent(
    real_receipt: tuple[Receipt, str], field: str, value: Any
) -> None:
    receipt, key = real_receipt
    receipt["consent"][field] = value
    assert not verify_receipt(receipt, key).ok


def test_issue_reproduction_submission_and_issued_at(real_receipt: tuple[Receipt, str]) -> None:
    receipt, key = real_receipt
    assert not verify_receipt({**receipt, "submission": "someone-else"}, key).ok
    later = verify_receipt({**receipt, "issued_at": "2031-01-01T00:00:00.000000Z"}, key)
    assert "issued_at" in {p for p, _ in later.unverified}
    assert not any(ok and "issued_at" in m for ok, m in later.checks)
