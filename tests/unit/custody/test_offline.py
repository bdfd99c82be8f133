from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portal.custody.merkle import (
    CompactRange,
    NodeId,
    inclusion_proof,
    leaf_hash,
    nodes_for_append,
    siblings_needed_for_append,
)
from portal.custody.note import format_checkpoint, generate_signer, sign, verifier_from_signer
from portal.custody.offline import canonical_json, load_receipt, verify_receipt

ORIGIN = "portal.example/custody"
SKEY = generate_signer(ORIGIN)
VKEY = verifier_from_signer(SKEY)
CONTENT = {"photo.jpg": b"\xff\xd8 a photo", "clip.mp4": b"a video clip" * 100}


def build() -> dict[str, Any]:
    """A 7-event log holding two upload events, and a receipt for both files."""
    nodes: dict[NodeId, bytes] = {}
    cr = CompactRange()
    uploads: list[tuple[int, str, bytes]] = []
    for seq in range(7):
        name = list(CONTENT)[seq % 2]
        details: dict[str, Any] = {"note": "other event"}
        if seq in (2, 5):
            data = CONTENT[name]
            details = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        event = canonical_json(
            {"seq": seq, "type": "upload.completed", "subject": "s1", "details": details}
        )
        leaf = leaf_hash(event)
        siblings = {k: nodes[k] for k in siblings_needed_for_append(seq)}
        nodes.update({(lv, ix): h for lv, ix, h in nodes_for_append(seq, leaf, siblings)})
        cr.append(leaf)
        if seq in (2, 5):
            uploads.append((seq, name, event))
    files = []
    for seq, name, event in uploads:
        data = CONTENT[name]
        proof = inclusion_proof(seq, cr.size, lambda ids: {i: nodes[i] for i in ids})
        files.append(
            {
                "name": name,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "event": event.decode(),
                "leaf_index": seq,
                "inclusion_proof": [base64.b64encode(p).decode() for p in proof],
            }
        )
    return {
        "format": "portal-receipt/1",
        "log": {"origin": ORIGIN, "public_key": VKEY},
        "checkpoint": sign(format_checkpoint(ORIGIN, cr.size, cr.root()), SKEY),
        "files": files,
        "submission": "s1",
    }


def failures(report: Any) -> str:
    return "\n".join(m for ok, m in report.checks if not ok)


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_valid_receipt_with_given_key(tmp_path: Path) -> None:
    receipt = build()
    local = {}
    for name, data in CONTENT.items():
        (tmp_path / name).write_bytes(data)
        local[name] = tmp_path / name
    report = verify_receipt(receipt, VKEY, local)
    assert report.ok, report.text()
    assert report.key_source == "given"
    assert not report.warnings
    assert sum("inclusion proof valid" in m for _, m in report.checks) == 2
    assert "all checks passed" in report.text()

    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    assert verify_receipt(load_receipt(path), VKEY).ok


def test_key_from_receipt_is_flagged() -> None:
    report = verify_receipt(build())
    assert report.ok
    assert report.key_source == "receipt"
    assert any("forger" in w for w in report.warnings)
    assert any("embedded in the receipt" in m for _, m in report.checks)


def _set_file(i: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(r: dict[str, Any]) -> None:
        r["files"][i][key] = value

    return edit


def _event(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(r: dict[str, Any]) -> None:
        event = json.loads(r["files"][0]["event"])
        edit(event)
        r["files"][0]["event"] = canonical_json(event).decode()

    return apply


def _flip_proof(r: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(r["files"][0]["inclusion_proof"][1]))
    raw[0] ^= 0x80
    r["files"][0]["inclusion_proof"][1] = base64.b64encode(bytes(raw)).decode()


def _resign(r: dict[str, Any]) -> None:
    text = r["checkpoint"].split("\n\n")[0] + "\n"
    r["checkpoint"] = sign(text, generate_signer(ORIGIN))


def _tamper_checkpoint(r: dict[str, Any]) -> None:
    r["checkpoint"] = r["checkpoint"].replace("\n7\n", "\n8\n")


TAMPERING: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "event bytes": (_event(lambda e: e.update(subject="s2")), "inclusion proof FAILED"),
    "event not canonical": (
        lambda r: r["files"][0].update(event=r["files"][0]["event"].replace(":", ": ", 1)),
        "NOT canonical",
    ),
    "event sha256": (
        _event(lambda e: e["details"].update(sha256="0" * 64)),
        "event sha256",
    ),
    "receipt size": (_set_file(0, "size", 11), "event size"),
    "receipt sha256": (_set_file(0, "sha256", "ab" * 32), "event sha256"),
    "proof hash": (_flip_proof, "inclusion proof FAILED"),
    "proof length": (lambda r: r["files"][0]["inclusion_proof"].pop(), "inclusion proof FAILED"),
    "leaf index": (_set_file(0, "leaf_index", 3), "inclusion proof FAILED (leaf index 3)"),
    "leaf index beyond": (_set_file(0, "leaf_index", 9), "not below tree size"),
    "checkpoint text": (_tamper_checkpoint, "signature INVALID"),
    "checkpoint other key": (_resign, "signature INVALID"),
    "origin": (lambda r: r["log"].update(origin="evil.example"), "differs from log origin"),
    "format": (lambda r: r.update(format="portal-receipt/2"), "expected 'portal-receipt/1'"),
    "no files": (lambda r: r.update(files=[]), "no files"),
    "bad entry": (lambda r: r["files"].append(7), "not an object"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_reported(case: str) -> None:
    receipt = build()
    edit, expected = TAMPERING[case]
    edit(receipt)
    report = verify_receipt(receipt, VKEY)
    assert not report.ok
    assert expected in failures(report), report.text()


def test_receipt_signed_by_forger_passes_only_its_own_key() -> None:
    receipt = copy.deepcopy(build())
    forger = generate_signer(ORIGIN)
    _tamper_checkpoint(receipt)
    receipt["checkpoint"] = sign(receipt["checkpoint"].split("\n\n")[0] + "\n", forger)
    receipt["log"]["public_key"] = verifier_from_signer(forger)
    # The proofs no longer match the forged size, but more to the point: the real key
    # rejects it, while the receipt's own key "accepts" the signature.
    assert "signature INVALID" in failures(verify_receipt(receipt, VKEY))
    own = verify_receipt(receipt)
    assert own.key_source == "receipt" and own.warnings
    assert any(ok and "signature valid" in m for ok, m in own.checks)


def test_local_file_mismatch(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"something else")
    report = verify_receipt(build(), VKEY, {"photo.jpg": tmp_path / "p", "ghost": tmp_path / "g"})
    text = failures(report)
    assert "local file" in text and "sha256" in text
    assert "'ghost'" in text


def test_garbage_does_not_raise(tmp_path: Path) -> None:
    garbage: list[dict[str, Any]] = [
        {},
        {"files": "x", "checkpoint": 3, "log": []},
        {"files": [{}]},
    ]
    for receipt in garbage:
        assert not verify_receipt(receipt, VKEY).ok
    r = build()
    r["files"][0]["inclusion_proof"] = ["***"]
    r["files"][1]["event"] = "{not json"
    assert not verify_receipt(r, VKEY).ok
    with pytest.raises(ValueError):
        verify_receipt([], VKEY)  # type: ignore[arg-type]
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    with pytest.raises(ValueError):
        load_receipt(bad)
