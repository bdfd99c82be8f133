"""Court exports: bundles from real uploads verify offline, and every tampering is named;
the PDF and JSON-LD describe every item and event; consent scopes and witness identity rules
hold, and each export is one `evidence.exported` event recording the manifest's hash."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from pypdf import PdfReader
from typer.testing import CliRunner

from portal.app import create_app
from portal.cli.export import export_command, verify_bundle_command
from portal.config import Settings
from portal.custody import service as custody
from portal.custody.note import generate_signer, verifier_from_signer
from portal.export.router import router as export_router
from portal.export.verify import verify_bundle
from portal.flows import export as export_flow
from tests.support.api import CONTACT, staff_login
from tests.support.custody import log_size
from tests.support.evidence import Item, png, received
from tests.support.routes import api_routes

pytestmark = pytest.mark.both_backends

EXPORTS = "/api/v1/cases/{case_id}/exports"
COURT = {"version": "1", "scopes": ["investigation", "prosecution"], "language": "es"}
NO_COURT = {"version": "1", "scopes": ["investigation", "public_appeal"], "language": "en"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The portal, with the export router included (until portal/app.py does it)."""
    app = create_app(settings)
    if not any(e.path == EXPORTS for e in api_routes(app)):
        app.include_router(export_router)
    with TestClient(app) as c:
        yield c


def runtime(client: TestClient) -> Any:
    return client.app.state.runtime  # type: ignore[attr-defined]


def log_events(client: TestClient, start: int = 0) -> list[dict[str, Any]]:
    with runtime(client).sessions() as db:
        size = custody.tree_size(db)
        return [json.loads(e.event) for e in custody.entries(db, start=start, end=size)]


def make_case(client: TestClient, staff: dict[str, str], items: list[Item]) -> str:
    r = client.post(
        "/api/v1/cases", json={"title": "Balcony shooting", "reference": "CDMX-7"}, headers=staff
    )
    assert r.status_code == 201, r.text
    case_id = str(r.json()["id"])
    for item in items:
        r = client.post(
            f"/api/v1/cases/{case_id}/evidence", json={"evidence_id": item.id}, headers=staff
        )
        assert r.status_code == 204, r.text
    return case_id


def export(client: TestClient, case_id: str, staff: dict[str, str], **body: Any) -> Any:
    return client.post(EXPORTS.format(case_id=case_id), json=body or None, headers=staff)


@pytest.fixture
def investigator(client: TestClient) -> dict[str, str]:
    return staff_login(client, "investigator")


@pytest.fixture
def supervisor(client: TestClient) -> dict[str, str]:
    return staff_login(client, "supervisor")


@pytest.fixture
def two_items(client: TestClient, video: Path) -> list[Item]:
    """A video and a photo from two witnesses, both consenting to court use."""
    return [
        received(client, video.read_bytes(), name="balcón.mp4", consent=COURT, contact=CONTACT),
        received(client, png(32, 24), name="photo.png", consent=COURT),
    ]


@pytest.fixture
def bundle(
    client: TestClient, investigator: dict[str, str], two_items: list[Item], tmp_path: Path
) -> tuple[Path, str, Any]:
    case_id = make_case(client, investigator, two_items)
    r = export(client, case_id, investigator)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    path = tmp_path / "bundle.zip"
    path.write_bytes(r.content)
    return path, case_id, r


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def rezip(path: Path, files: dict[str, bytes], out: Path) -> Path:
    """The same bundle with some members replaced: what someone editing it would produce."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, files.get(info.filename, src.read(info)))
    return out


def flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def failures(report: Any) -> list[str]:
    return [message for passed, message in report.checks if not passed]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# --- 1. a bundle from real uploads verifies, and tampering is named ---------------------------


def test_bundle_from_real_uploads_verifies(
    client: TestClient, bundle: tuple[Path, str, Any], two_items: list[Item]
) -> None:
    path, case_id, _ = bundle
    rt = runtime(client)
    report = verify_bundle(path, rt.log_verifier)
    assert report.ok, report.text()
    assert report.key_source == "given" and report.checkpoint_verified

    files = members(path)
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "portal-bundle/3"
    assert manifest["case"]["id"] == case_id
    for item in two_items:
        entry = next(f for f in manifest["files"] if f["evidence_id"] == item.id)
        assert files[entry["path"]] == item.data  # byte for byte
        assert entry["path"] == f"originals/{item.sha256}/{entry['path'].rsplit('/', 1)[1]}"
        assert entry["sha256"] == item.sha256 and entry["size"] == len(item.data)
        assert entry["media_type"] in ("video/mp4", "image/png") and entry["received_at"]
        assert entry["consent"]["scopes"] == ["investigation", "prosecution"]
        types = {json.loads(manifest_event(manifest, i))["type"] for i in entry["events"]}
        assert {"consent.given", "upload.completed", "evidence.received"} <= types
    assert manifest["log"]["public_key"] == rt.log_verifier
    # Every event is proven against the one checkpoint the bundle carries.
    size = int(manifest["checkpoint"].splitlines()[1])
    assert all(e["leaf_index"] < size for e in manifest["events"])
    with zipfile.ZipFile(path) as zf:
        stored = {i.filename: i.compress_type for i in zf.infolist()}
    assert all(stored[f["path"]] == zipfile.ZIP_STORED for f in manifest["files"])

    # Without a key, the bundle's own key is used, and the report warns that proves little.
    alone = verify_bundle(path)
    assert alone.ok and alone.key_source == "bundle"
    assert any("independent, trusted source" in w for w in alone.warnings)


def manifest_event(manifest: dict[str, Any], index: int) -> str:
    return str(next(e["event"] for e in manifest["events"] if e["leaf_index"] == index))


def test_flipping_a_byte_in_any_file_fails_and_names_it(
    client: TestClient, bundle: tuple[Path, str, Any], tmp_path: Path
) -> None:
    path, _, _ = bundle
    key = runtime(client).log_verifier
    files = members(path)
    assert len(files) == 6  # manifest, export proof, report, JSON-LD, two originals
    for name, data in files.items():
        if name == "manifest.json":
            continue  # below, and its events and hashes one by one in the next test
        report = verify_bundle(rezip(path, {name: flip(data)}, tmp_path / "t.zip"), key)
        assert not report.ok, name
        assert any(name in f for f in failures(report)), (name, report.text())

    report = verify_bundle(
        rezip(path, {"manifest.json": flip(files["manifest.json"])}, tmp_path / "m.zip"), key
    )
    assert not report.ok and failures(report)

    # A flipped byte in the zip itself (inside an original's stored bytes): the CRC names it.
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.startswith("originals/"))
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(flip(raw, info.header_offset + 30 + len(info.filename) + 100))
    report = verify_bundle(damaged, key)
    assert not report.ok
    assert any(info.filename in f and "damaged" in f for f in failures(report)), report.text()

    # A manifest hash edited to match a swapped file is caught by the logged event.
    manifest = json.loads(files["manifest.json"])
    entry = manifest["files"][1]
    fake = b"not the original"
    entry["sha256"], entry["size"] = hashlib.sha256(fake).hexdigest(), len(fake)
    edited = {"manifest.json": json.dumps(manifest).encode(), entry["path"]: fake}
    report = verify_bundle(rezip(path, edited, tmp_path / "swap.zip"), key)
    assert not report.ok
    assert any("upload.completed" in f and entry["evidence_id"] in f for f in failures(report))

    # Another key than the log's: the checkpoint signature fails.
    other = verifier_from_signer(generate_signer("portal.invalid/custody"))
    report = verify_bundle(path, other)
    assert not report.ok and any("signature INVALID" in f for f in failures(report))


def test_flipping_a_byte_in_any_event_fails_and_names_it(
    client: TestClient, bundle: tuple[Path, str, Any], tmp_path: Path
) -> None:
    path, _, _ = bundle
    key = runtime(client).log_verifier
    manifest = json.loads(members(path)["manifest.json"])
    assert len(manifest["events"]) >= 8
    for n, event in enumerate(manifest["events"]):
        copy = json.loads(json.dumps(manifest))
        text = copy["events"][n]["event"]
        # A byte inside the actor's value: the event still parses, but is not what was logged.
        at = text.index('"actor":"') + len('"actor":"') + 1
        copy["events"][n]["event"] = text[:at] + chr(ord(text[at]) ^ 1) + text[at + 1 :]
        out = rezip(path, {"manifest.json": json.dumps(copy).encode()}, tmp_path / "e.zip")
        report = verify_bundle(out, key)
        assert not report.ok
        assert any(f"event {event['leaf_index']}" in f for f in failures(report)), report.text()
    # And one byte of a proof.
    copy = json.loads(json.dumps(manifest))
    proof = copy["events"][0]["inclusion_proof"]
    proof[0] = ("B" if proof[0][0] == "A" else "A") + proof[0][1:]
    out = rezip(path, {"manifest.json": json.dumps(copy).encode()}, tmp_path / "p.zip")
    report = verify_bundle(out, key)
    index = copy["events"][0]["leaf_index"]
    assert any(f"event {index}" in f and "inclusion proof" in f for f in failures(report))


def test_originals_are_streamed_not_loaded(
    client: TestClient, investigator: dict[str, str], tmp_path: Path
) -> None:
    """A 24 MiB original goes into the bundle without the export holding it in memory."""
    big = png(4, 4) + os.urandom(24 << 20)
    item = received(client, big, name="big.png", consent=COURT)
    case_id = make_case(client, investigator, [item])
    dest = tmp_path / "big.zip"
    tracemalloc.start()
    try:
        result = export_flow.export_case(
            runtime(client), case_id=case_id, actor="cli", include_witness_identity=False, dest=dest
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak} bytes"
    assert verify_bundle(dest, runtime(client).log_verifier).ok
    assert result.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    with zipfile.ZipFile(dest) as zf:
        (name,) = [n for n in zf.namelist() if n.startswith("originals/")]
        assert hashlib.sha256(zf.read(name)).hexdigest() == item.sha256


# --- 4. the export is one event with the bundle's hash; nothing else is stored ----------------


def test_export_is_logged_with_the_manifest_hash(
    client: TestClient,
    bundle: tuple[Path, str, Any],
    two_items: list[Item],
    settings: Settings,
) -> None:
    path, case_id, response = bundle
    index = int(response.headers["X-Log-Index"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert response.headers["X-Bundle-SHA256"] == digest
    assert "attachment" in response.headers["content-disposition"]
    event = log_events(client)[index]
    assert event["type"] == "evidence.exported" and event["subject"] == case_id
    assert event["actor"].startswith("staff:") and event["actor"].endswith(":investigator")
    details = event["details"]
    # The zip holds the proof of this event, so the event records the manifest's hash.
    manifest_bytes = members(path)["manifest.json"]
    assert details["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert details["manifest_size"] == len(manifest_bytes)
    assert [i["evidence"] for i in details["items"]] == [i.id for i in two_items]
    assert [i["sha256"] for i in details["items"]] == [i.sha256 for i in two_items]
    assert details["include_witness_identity"] is False
    # The checkpoint the bundle is proven against was signed for it, just before.
    manifest = json.loads(members(path)["manifest.json"])
    assert details["checkpoint_size"] == int(manifest["checkpoint"].splitlines()[1])
    # (Background media work for the items may log `evidence.derived` meanwhile.)
    between = [e["type"] for e in log_events(client)[details["checkpoint_size"] : index]]
    assert "log.checkpoint_signed" in between, between
    assert set(between) <= {"log.checkpoint_signed", "evidence.derived"}, between
    # Nothing of the bundle is kept on the server.
    spool = settings.data_dir / "tmp"
    assert not spool.exists() or not any(spool.iterdir())


# --- the PDF and the JSON-LD ------------------------------------------------------------------


def test_pdf_report_names_every_item_and_event(
    bundle: tuple[Path, str, Any], two_items: list[Item]
) -> None:
    path, case_id, _ = bundle
    files = members(path)
    manifest = json.loads(files["manifest.json"])
    data = files["custody-report.pdf"]
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert "Chain of custody report" in text and case_id in text
    for n, item in enumerate(two_items, 1):
        assert item.sha256 in text
        assert f"Item {n} of 2" in text
    for e in manifest["events"]:
        assert json.loads(e["event"])["type"] in text
    assert "investigator" in text  # who: the staff member's name and role
    assert "balc\u00f3n.mp4" in text  # Latin-1 text survives as itself
    # And a real renderer draws it (poppler-utils is part of the test install).
    assert shutil.which("pdftoppm"), "pdftoppm missing: install poppler-utils"
    pdf = path.parent / "report.pdf"
    pdf.write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(pdf), str(path.parent / "page")], check=True
    )
    pages = sorted(path.parent.glob("page-*.png"))
    # Every page of the report draws (how many depends on how many events the case has).
    assert len(pages) == len(PdfReader(pdf).pages) >= 3
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pages)


def test_jsonld_names_every_item_and_event(
    bundle: tuple[Path, str, Any], two_items: list[Item]
) -> None:
    path, _, _ = bundle
    files = members(path)
    manifest = json.loads(files["manifest.json"])
    doc = json.loads(files["custody.jsonld"])
    ctx = doc["@context"]
    assert ctx["case-investigation"] == "https://ontology.caseontology.org/case/investigation/"
    assert ctx["uco-observable"] == "https://ontology.unifiedcyberontology.org/uco/observable/"
    nodes = doc["@graph"]
    ids = [n["@id"] for n in nodes]
    assert len(ids) == len(set(ids))

    def of(kind: str) -> list[dict[str, Any]]:
        return [n for n in nodes if n["@type"] == kind]

    def refs(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in node.get("uco-core:externalReference", [])]

    (investigation,) = of("case-investigation:Investigation")
    members_of_case = {r["@id"] for r in investigation["uco-core:object"]}
    assert members_of_case == set(ids) - {investigation["@id"]}

    by_item = {
        r["uco-core:externalIdentifier"]: f for f in of("uco-observable:File") for r in refs(f)
    }
    assert set(by_item) == {i.id for i in two_items}
    for item in two_items:
        facets = {f["@type"]: f for f in by_item[item.id]["uco-core:hasFacet"]}
        content = facets["uco-observable:ContentDataFacet"]
        (digest,) = content["uco-observable:hash"]
        assert digest["@type"] == "uco-types:Hash"
        assert digest["uco-types:hashMethod"]["@value"] == "SHA256"
        assert digest["uco-types:hashValue"] == {"@type": "xsd:hexBinary", "@value": item.sha256}
        assert facets["uco-observable:FileFacet"]["uco-observable:sizeInBytes"] == len(item.data)
    records = of("case-investigation:ProvenanceRecord")
    assert {r["uco-core:object"][0]["@id"] for r in records} == {f["@id"] for f in by_item.values()}
    assert sorted(r["case-investigation:exhibitNumber"] for r in records) == [
        "CDMX-7-001",
        "CDMX-7-002",
    ]

    actions = of("case-investigation:InvestigativeAction")
    logged = {e["leaf_index"]: e["event"] for e in manifest["events"]}
    seen = {}
    for action in actions:
        index, text = (r["uco-core:externalIdentifier"] for r in refs(action))
        seen[int(index)] = text
        event = json.loads(text)
        assert action["uco-core:name"] == event["type"]
        assert action["uco-action:startTime"] == {"@type": "xsd:dateTime", "@value": event["at"]}
        assert action["uco-action:performer"]["@id"] in ids
        for obj in action["uco-action:object"]:
            assert obj["@id"] in ids
    assert seen == logged


# --- 2. consent scopes --------------------------------------------------------------------------


def test_item_without_prosecution_scope_is_refused_and_nothing_logged(
    client: TestClient, investigator: dict[str, str], video: Path, settings: Settings
) -> None:
    good = received(client, video.read_bytes(), name="ok.mp4", consent=COURT)
    bad = received(client, png(), name="appeal-only.png", consent=NO_COURT)
    worse = received(client, png(8, 8), name="also.png", consent=NO_COURT)
    case_id = make_case(client, investigator, [good, bad, worse])
    before = log_size(client)
    r = export(client, case_id, investigator)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "consent_scope"
    assert bad.id in body["message"] and "appeal-only.png" in body["message"]
    assert worse.id in body["message"] and good.id not in body["message"]
    assert "prosecution" in body["message"]
    assert log_size(client) == before  # nothing logged, not even a checkpoint
    spool = settings.data_dir / "tmp"
    assert not spool.exists() or not any(spool.iterdir())


def test_export_rules_on_who_and_what(
    client: TestClient, investigator: dict[str, str], two_items: list[Item]
) -> None:
    empty = client.post("/api/v1/cases", json={"title": "Nothing yet"}, headers=investigator)
    r = export(client, empty.json()["id"], investigator)
    assert r.status_code == 422 and r.json()["error"] == "empty_case"
    assert export(client, "no-such-case", investigator).status_code == 404
    case_id = make_case(client, investigator, two_items)
    for role in ("auditor", "admin"):
        r = export(client, case_id, staff_login(client, role))
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert client.post(EXPORTS.format(case_id=case_id)).status_code == 401
    r = export(client, case_id, investigator, include_witness_identity="maybe")
    assert r.status_code == 422 and r.json()["error"] == "invalid"


# --- witness identity -------------------------------------------------------------------------


def contact_strings() -> list[str]:
    return [CONTACT["name"], CONTACT["phone"], CONTACT["email"]]


def all_text(files: dict[str, bytes]) -> str:
    """Every member as the reader sees it: raw bytes as text, and the PDF's extracted text."""
    parts = [data.decode("latin-1") for data in files.values()]
    parts += [data.decode("utf-8", "replace") for data in files.values()]
    parts.append(pdf_text(files["custody-report.pdf"]))
    return "\n".join(parts)


def test_witness_identity_only_when_asked_and_recorded(
    client: TestClient,
    investigator: dict[str, str],
    supervisor: dict[str, str],
    two_items: list[Item],
    tmp_path: Path,
) -> None:
    case_id = make_case(client, investigator, two_items)
    witness = two_items[0]

    r = export(client, case_id, investigator)
    assert r.status_code == 200, r.text
    text = all_text(members(_write(tmp_path / "a.zip", r.content)))
    for s in contact_strings():
        assert s not in text
    assert (
        log_events(client)[int(r.headers["X-Log-Index"])]["details"]["include_witness_identity"]
        is False
    )

    # Investigators may not decrypt contact details, so they may not export them either.
    before = log_size(client)
    r = export(client, case_id, investigator, include_witness_identity=True)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert log_size(client) == before

    r = export(client, case_id, supervisor, include_witness_identity=True)
    assert r.status_code == 200, r.text
    path = _write(tmp_path / "b.zip", r.content)
    assert verify_bundle(path, runtime(client).log_verifier).ok
    files = members(path)
    manifest = json.loads(files["manifest.json"])
    assert manifest["include_witness_identity"] is True
    with_contact = next(f for f in manifest["files"] if f["evidence_id"] == witness.id)
    assert with_contact["witness"] == CONTACT
    assert next(f for f in manifest["files"] if f["evidence_id"] != witness.id)["witness"] == {}
    pdf = pdf_text(files["custody-report.pdf"])
    assert CONTACT["name"] in pdf and CONTACT["email"] in pdf and "INCLUDED" in pdf
    assert CONTACT["name"] in files["custody.jsonld"].decode()
    event = log_events(client)[int(r.headers["X-Log-Index"])]
    assert event["type"] == "evidence.exported"
    assert event["details"]["include_witness_identity"] is True
    assert event["actor"].endswith(":supervisor")
    for s in contact_strings():  # the log itself never holds the contact details
        assert s not in json.dumps(event)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- the command line ---------------------------------------------------------------------------


def cli() -> typer.Typer:
    """The two commands as portal.cli registers them."""
    app = typer.Typer()
    app.command("export")(export_command)
    app.command("verify-bundle")(verify_bundle_command)
    return app


def test_cli_export_and_verify_bundle(
    client: TestClient,
    investigator: dict[str, str],
    two_items: list[Item],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = CliRunner()
    for name in ("database_url", "storage_url", "s3_endpoint_url"):  # the same backend
        if getattr(settings, name):
            monkeypatch.setenv(f"PORTAL_{name.upper()}", getattr(settings, name))
    case_id = make_case(client, investigator, two_items)
    out = tmp_path / "out" / "bundle.zip"
    data_dir = str(settings.data_dir)
    r = runner.invoke(cli(), ["export", case_id, "-o", str(out), "--data-dir", data_dir])
    assert r.exit_code == 0, r.output
    assert out.is_file() and not [p for p in out.parent.iterdir() if p != out]
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert digest in r.output
    exported = [e for e in log_events(client) if e["type"] == "evidence.exported"]
    manifest_sha = hashlib.sha256(members(out)["manifest.json"]).hexdigest()
    assert exported[-1]["actor"] == "cli"
    assert exported[-1]["details"]["manifest_sha256"] == manifest_sha

    key_file = tmp_path / "log.pub"
    key_file.write_text(runtime(client).log_verifier + "\n")
    r = runner.invoke(cli(), ["verify-bundle", str(out), "--public-key", str(key_file)])
    assert r.exit_code == 0, r.output
    assert "RESULT: all checks passed" in r.output

    files = members(out)
    name = next(n for n in files if n.startswith("originals/"))
    bad = rezip(out, {name: flip(files[name])}, tmp_path / "bad.zip")
    r = runner.invoke(cli(), ["verify-bundle", str(bad), "--public-key", str(key_file)])
    assert r.exit_code == 1
    assert "VERIFICATION FAILED" in r.output and name in r.output

    # As a named staff member; and refusals leave no file and no event.
    r = runner.invoke(
        cli(),
        ["export", case_id, "-o", str(out), "--data-dir", data_dir, "--by", "investigator-12"],
    )
    assert r.exit_code == 0, r.output
    last = [e for e in log_events(client) if e["type"] == "evidence.exported"][-1]
    assert last["actor"].endswith(":investigator")
    before = log_size(client)
    r = runner.invoke(
        cli(),
        [
            "export",
            case_id,
            "-o",
            str(tmp_path / "no.zip"),
            "--data-dir",
            data_dir,
            "--by",
            "investigator-12",
            "--include-witness-identity",
        ],
    )
    assert r.exit_code == 1 and "forbidden" in r.output
    assert not (tmp_path / "no.zip").exists() and log_size(client) == before


def test_the_verifier_needs_only_the_offline_modules() -> None:
    """An expert's machine needs the standard library, `cryptography` and the offline modules."""
    code = (
        "import sys, json, portal.export.verify; "
        "print(json.dumps(sorted(m for m in sys.modules if m not in sys.stdlib_module_names)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m for m in json.loads(out.stdout) if not m.startswith("_")}
    portal_modules = {m for m in loaded if m.split(".")[0] == "portal"}
    assert portal_modules == {
        "portal",
        "portal.custody",
        "portal.custody.commitment",
        "portal.custody.merkle",
        "portal.custody.note",
        "portal.custody.offline",
        "portal.custody.tsa",
        "portal.export",
        "portal.export.derivatives",
        "portal.export.members",
        "portal.export.proof",
        "portal.export.redacted",
        "portal.export.verify",
    }
    for heavy in ("sqlalchemy", "fastapi", "pydantic", "fpdf", "typer", "rich", "boto3"):
        assert heavy not in {m.split(".")[0] for m in loaded}
