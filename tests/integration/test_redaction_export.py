"""Redacted copies in a court bundle: kept apart from the originals, marked as copies, and
verified offline against the original beside them through their logged provenance."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from portal.export.verify import verify_bundle
from tests.support.api import runtime, staff_login
from tests.support.redaction import probed, rendered, video_with_sound
from tests.support.retention import link, new_case, new_witness, send

pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return video_with_sound(tmp_path_factory.mktemp("clip") / "clip.mp4").read_bytes()


def _rezip(path: Path, out: Path, **replace: bytes) -> Path:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, replace.get(info.filename, src.read(info)))
    return out


def test_a_redacted_copy_is_exported_marked_and_verified(
    client: TestClient, clip: bytes, tmp_path: Path
) -> None:
    ines = staff_login(client, "investigator", name="ines")
    sara = staff_login(client, "supervisor", name="sara")
    item = probed(client, send(client, new_witness(client), clip))
    made = rendered(client, item, ines, sara)
    case_id = new_case(client, ines)
    link(client, ines, case_id, item)
    r = client.post(f"/api/v1/cases/{case_id}/exports", headers=ines)
    assert r.status_code == 200, r.text
    path = tmp_path / "bundle.zip"
    path.write_bytes(r.content)

    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        (entry,) = manifest["files"]
        (copy,) = entry["redacted_copies"]
        assert copy["path"].startswith("redacted/") and entry["path"].startswith("originals/")
        assert copy["marking"].startswith("REDACTED COPY")
        assert copy["sha256"] == made["output_sha256"] != entry["sha256"]
        assert hashlib.sha256(zf.read(entry["path"])).hexdigest() == entry["sha256"]
        assert hashlib.sha256(zf.read(copy["path"])).hexdigest() == copy["sha256"]
    key = runtime(client).log_verifier
    report = verify_bundle(path, key)
    assert report.ok, report.checks
    assert any("made from the original" in m and ok for ok, m in report.checks)

    # The copy's bytes swapped, or its provenance pointing at another event: both named.
    swapped = _rezip(path, tmp_path / "swap.zip", **{copy["path"]: b"not the copy"})
    assert not verify_bundle(swapped, key).ok
    copy["provenance_event"] = entry["leaf_index"]
    edited = json.dumps(manifest).encode()
    report = verify_bundle(_rezip(path, tmp_path / "edit.zip", **{"manifest.json": edited}), key)
    bad = [m for ok, m in report.checks if not ok]
    assert any("not the provenance of this copy" in m for m in bad), bad
