"""Every alteration of a real court bundle fails verification or is reported as not verified.

The bundle is made through the API for a case with two items from two witnesses. Then every
JSON field of `manifest.json` and of the export proof is changed, given the wrong type, removed,
joined by an extra field, and each list reordered, one alteration at a time; every member of
the zip is removed, and has one byte flipped both in its content and in its stored (possibly
compressed) bytes. An alteration escapes if the verifier still passes and does not name the
altered field among those it could not verify.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portal.custody.offline import Report
from portal.export.verify import MANIFEST, verify_bundle
from tests.support.api import CONTACT, staff_login
from tests.support.evidence import png, received
from tests.support.mutations import mutations, other

COURT = {"version": "1", "scopes": ["investigation", "prosecution"], "language": "es"}
PROOF = "export-proof.json"

Bundle = tuple[Path, str]
"""(the bundle file, the log's public key)"""


@pytest.fixture
def bundle(client: TestClient, tmp_path: Path) -> Bundle:
    staff = staff_login(client, "investigator")
    items = [
        received(client, png(32, 24), name="balcón.png", consent=COURT, contact=CONTACT),
        received(client, png(16, 16), name="photo.png", consent=COURT),
    ]
    r = client.post(
        "/api/v1/cases", json={"title": "Balcony shooting", "reference": "CDMX-7"}, headers=staff
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    for item in items:
        r = client.post(
            f"/api/v1/cases/{case_id}/evidence", json={"evidence_id": item.id}, headers=staff
        )
        assert r.status_code == 204, r.text
    r = client.post(f"/api/v1/cases/{case_id}/exports", headers=staff)
    assert r.status_code == 200, r.text
    path = tmp_path / "bundle.zip"
    path.write_bytes(r.content)
    key = client.get("/api/v1/log/public-key").text.strip()
    return path, key


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def rezip(path: Path, out: Path, files: dict[str, bytes | None]) -> Path:
    """The bundle with members replaced (None: removed) or added, as an editor would make it."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = files.get(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info, data)
        for name in set(files) - set(src.namelist()):
            if (data := files[name]) is not None:
                dst.writestr(name, data)
    return out


def flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def escaped(report: Report, path: str) -> bool:
    return report.ok and path not in {p for p, _ in report.unverified}


def test_the_real_bundle_verifies(bundle: Bundle) -> None:
    path, key = bundle
    report = verify_bundle(path, key)
    assert report.ok, report.text()
    assert set(members(path)) >= {MANIFEST, PROOF}
    # What the log cannot know offline is never an OK line.
    assert not any("records this hash" in m for _, m in report.checks)
    assert any(ok and "evidence.exported" in m and MANIFEST in m for ok, m in report.checks)
    # Names are proven by the log's commitments, and no event holds one.
    opened = [m for ok, m in report.checks if ok and "opens the proven event's name" in m]
    assert len(opened) == 2, report.text()
    manifest = json.loads(members(path)[MANIFEST])
    assert {f["name"] for f in manifest["files"]} == {"balcón.png", "photo.png"}
    events = json.dumps([e["event"] for e in manifest["events"]], ensure_ascii=False)
    assert "balcón" not in events and "photo.png" not in events


@pytest.mark.parametrize("field", ["name", "name_salt"])
def test_a_changed_name_fails_even_without_the_export_proof(
    bundle: Bundle, tmp_path: Path, field: str
) -> None:
    """The export proof binds the manifest; a name is also bound by its own commitment."""
    path, key = bundle
    manifest = json.loads(members(path)[MANIFEST])
    entry = manifest["files"][0]
    entry[field] = "IMG_0001.png" if field == "name" else "00" * 32
    out = rezip(path, tmp_path / "n.zip", {MANIFEST: json.dumps(manifest).encode(), PROOF: None})
    report = verify_bundle(out, key)
    assert any(
        not ok and "does NOT open the proven event's name commitment" in m
        for ok, m in report.checks
    ), report.text()


@pytest.mark.parametrize("member", [MANIFEST, PROOF])
def test_every_json_alteration_fails_or_is_unverified(
    bundle: Bundle, tmp_path: Path, member: str
) -> None:
    path, key = bundle
    doc = json.loads(members(path)[member])
    found = list(mutations(doc))
    assert len(found) > (200 if member == MANIFEST else 15)
    escapes = []
    for where, what, edit in found:
        altered = copy.deepcopy(doc)
        edit(altered)
        if altered == doc:
            continue
        out = rezip(path, tmp_path / "m.zip", {member: json.dumps(altered, indent=2).encode()})
        report = verify_bundle(out, key)
        if escaped(report, where):
            escapes.append(f"{what} at {member}:{where}")
    assert not escapes, escapes


def test_every_member_removed_or_flipped_fails(bundle: Bundle, tmp_path: Path) -> None:
    path, key = bundle
    files = members(path)
    assert len(files) == 6  # manifest, proof, report, JSON-LD, two originals
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    for info in infos:
        name = info.filename
        for what, out in [
            ("removed", rezip(path, tmp_path / "r.zip", {name: None})),
            ("content flipped", rezip(path, tmp_path / "c.zip", {name: flip(files[name])})),
        ]:
            assert not verify_bundle(out, key).ok, (what, name)
        # A byte of the stored (for most: deflated) data, as damage on a disk would do.
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        damaged = tmp_path / "d.zip"
        damaged.write_bytes(flip(raw, start + info.compress_size // 2))
        report = verify_bundle(damaged, key)  # a finding, never an exception
        assert not report.ok and any(name in m for ok, m in report.checks if not ok), name
    extra = rezip(path, tmp_path / "x.zip", {"notes.txt": b"added later"})
    assert not verify_bundle(extra, key).ok


def _edited(path: Path, out: Path, edit: Any) -> Path:
    manifest = json.loads(members(path)[MANIFEST])
    edit(manifest)
    return rezip(path, out, {MANIFEST: json.dumps(manifest, indent=2).encode()})


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["case"].__setitem__("title", "Another case"),
        lambda m: m["case"].__setitem__("offense", other(m["case"]["offense"])),
        lambda m: m.__setitem__("exported_by", "staff:someone-else:supervisor"),
        lambda m: m["files"][0]["consent"].__setitem__("scopes", ["investigation"]),
        lambda m: m["files"][0].__setitem__("received_at", "2020-01-01T00:00:00.000000Z"),
    ],
    ids=["case title", "offense", "exported_by", "consent scopes", "received_at"],
)
def test_issue_reproductions(bundle: Bundle, tmp_path: Path, edit: Any) -> None:
    path, key = bundle
    report = verify_bundle(_edited(path, tmp_path / "e.zip", edit), key)
    assert not report.ok, report.text()


def test_without_the_export_proof_the_manifest_is_not_verified(
    bundle: Bundle, tmp_path: Path
) -> None:
    path, key = bundle
    report = verify_bundle(rezip(path, tmp_path / "n.zip", {PROOF: None}), key)
    assert not report.ok
    unverified = {p for p, _ in report.unverified}
    assert {"case", "exported_by", "files[0].consent", "files[1].received_at"} <= unverified
    assert not any(ok and "title" in m for ok, m in report.checks)


@pytest.mark.parametrize("member", [MANIFEST, "custody.jsonld"])
def test_a_damaged_deflated_member_is_a_finding_not_a_crash(
    bundle: Bundle, tmp_path: Path, member: str
) -> None:
    path, key = bundle
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged = tmp_path / "z.zip"
    # Early in the stream, where a flipped bit breaks the deflate codes (zlib.error).
    damaged.write_bytes(flip(path.read_bytes(), start + 2))
    report = verify_bundle(damaged, key)
    assert not report.ok
    assert any(member in m and "damaged" in m for ok, m in report.checks if not ok), report.text()
