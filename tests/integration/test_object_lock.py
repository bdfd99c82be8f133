"""Object Lock on S3 (SeaweedFS): evidence under retention or a legal hold cannot be destroyed,
not through the portal and not with direct S3 calls by someone holding the database and the
storage credentials. Deleting removes versions for real, never just hides them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from portal.storage import ObjectLocked
from portal.storage.s3 import MIN_PART_SIZE, LockMode, S3Storage
from tests.support.servers import Seaweed

KEY = "sha256/evidence"


@dataclass
class Locked:
    storage: S3Storage
    s3: Any  # a plain boto3 client: what someone with the credentials could do
    bucket: str

    @property
    def full_key(self) -> str:
        return "p/" + KEY

    def versions(self) -> list[dict[str, Any]]:
        r = self.s3.list_object_versions(Bucket=self.bucket, Prefix=self.full_key)
        return [*r.get("Versions", []), *r.get("DeleteMarkers", [])]

    def current_version(self) -> str:
        return str(self.s3.head_object(Bucket=self.bucket, Key=self.full_key)["VersionId"])

    def direct_delete(self, version: str, **extra: Any) -> str:
        """Try to delete one version directly; return the refusal's error code."""
        with pytest.raises(ClientError) as refused:
            self.s3.delete_object(Bucket=self.bucket, Key=self.full_key, VersionId=version, **extra)
        return str(refused.value.response["Error"]["Code"])


def _store(seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch, mode: LockMode) -> Locked:
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    bucket = seaweed.new_bucket(object_lock=True)
    s = S3Storage(
        bucket, "p", endpoint_url=seaweed.endpoint_url, lock_mode=mode, part_size=MIN_PART_SIZE
    )
    assert s.object_lock_enabled()
    # Stored the way originals are: a multipart partial, finished by a server-side copy.
    s.create_partial("up1")
    w = s.open_partial("up1", 0, None)
    w.write(b"evidence " * (MIN_PART_SIZE // 4))
    state = w.commit()
    s.finish_partial("up1", state, KEY)
    return Locked(s, seaweed.client(), bucket)


@pytest.fixture
def governance(seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch) -> Iterator[Locked]:
    yield _store(seaweed, monkeypatch, "GOVERNANCE")


@pytest.fixture
def compliance(seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch) -> Iterator[Locked]:
    yield _store(seaweed, monkeypatch, "COMPLIANCE")


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def wait_until(moment: datetime) -> None:
    time.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0) + 1.5)


def test_retention_is_set_on_the_exact_version_and_blocks_deletion(governance: Locked) -> None:
    g = governance
    until = soon(3600)
    g.storage.set_retention(KEY, until)
    version = g.current_version()
    r = g.s3.get_object_retention(Bucket=g.bucket, Key=g.full_key, VersionId=version)
    assert r["Retention"]["Mode"] == "GOVERNANCE"
    assert abs((r["Retention"]["RetainUntilDate"] - until).total_seconds()) < 2
    # Someone with the database and the keys, but not the application:
    assert g.direct_delete(version) == "AccessDenied"
    with pytest.raises(ObjectLocked):
        g.storage.delete(KEY)
    assert [v["VersionId"] for v in g.versions()] == [version]
    assert g.storage.exists(KEY)


def test_a_plain_delete_only_hides_a_retained_version(governance: Locked) -> None:
    g = governance
    g.storage.set_retention(KEY, soon(3600))
    version = g.current_version()
    g.s3.delete_object(Bucket=g.bucket, Key=g.full_key)  # no VersionId: a delete marker
    assert not g.storage.exists(KEY)
    assert version in [v["VersionId"] for v in g.versions()]
    # The portal's delete goes version by version: the marker goes, the evidence stays.
    with pytest.raises(ObjectLocked):
        g.storage.delete(KEY)
    assert [v["VersionId"] for v in g.versions()] == [version]
    assert g.storage.exists(KEY)


def test_retention_is_never_shortened(governance: Locked) -> None:
    g = governance
    later = soon(7200)
    g.storage.set_retention(KEY, later)
    g.storage.set_retention(KEY, soon(60))  # quietly keeps the later date
    g.storage.set_retention(KEY, None)  # nothing to lift on a locking backend
    r = g.s3.get_object_retention(Bucket=g.bucket, Key=g.full_key)
    assert abs((r["Retention"]["RetainUntilDate"] - later).total_seconds()) < 2


def test_governance_bypass_destroys_for_real(governance: Locked) -> None:
    g = governance
    g.storage.set_retention(KEY, soon(3600))
    with pytest.raises(ObjectLocked):
        g.storage.delete(KEY)
    g.storage.delete(KEY, bypass_governance=True)
    assert g.versions() == []  # no version left, and no delete marker standing in for it
    assert not g.storage.exists(KEY)


def test_legal_hold_blocks_deletion_even_with_bypass(governance: Locked) -> None:
    g = governance
    g.storage.set_legal_hold(KEY, True)
    version = g.current_version()
    r = g.s3.get_object_legal_hold(Bucket=g.bucket, Key=g.full_key, VersionId=version)
    assert r["LegalHold"]["Status"] == "ON"
    assert g.direct_delete(version) == "AccessDenied"
    assert g.direct_delete(version, BypassGovernanceRetention=True) == "AccessDenied"
    with pytest.raises(ObjectLocked):
        g.storage.delete(KEY, bypass_governance=True)
    g.storage.set_legal_hold(KEY, False)
    g.storage.delete(KEY)
    assert g.versions() == []


def test_hold_and_retention_together_then_expiry(governance: Locked) -> None:
    g = governance
    until = soon(3)
    g.storage.set_retention(KEY, until)
    g.storage.set_legal_hold(KEY, True)
    wait_until(until)
    # The date has passed but the hold has not been released.
    assert g.direct_delete(g.current_version()) == "AccessDenied"
    with pytest.raises(ObjectLocked):
        g.storage.delete(KEY)
    g.storage.set_legal_hold(KEY, False)
    g.storage.delete(KEY)
    assert g.versions() == []


def test_compliance_retention_cannot_be_bypassed(compliance: Locked) -> None:
    c = compliance
    until = soon(4)
    c.storage.set_retention(KEY, until)
    version = c.current_version()
    r = c.s3.get_object_retention(Bucket=c.bucket, Key=c.full_key, VersionId=version)
    assert r["Retention"]["Mode"] == "COMPLIANCE"
    assert c.direct_delete(version, BypassGovernanceRetention=True) == "AccessDenied"
    with pytest.raises(ObjectLocked):
        c.storage.delete(KEY, bypass_governance=True)
    wait_until(until)
    c.storage.delete(KEY)
    assert c.versions() == []


def test_without_object_lock_the_application_is_the_guard(
    seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    s = S3Storage(seaweed.new_bucket(), "p", endpoint_url=seaweed.endpoint_url)
    assert not s.object_lock_enabled()
    s.put(KEY, b"x")
    s.set_retention(KEY, soon(3600))  # no-ops: the retention engine refuses on its own
    s.set_legal_hold(KEY, True)
    s.delete(KEY)
    assert not s.exists(KEY)
