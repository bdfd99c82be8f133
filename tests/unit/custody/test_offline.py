from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portal.custody import commitment
from portal.custody.commitment import commit
from portal.custody.merkle import (
    CompactRange,
    NodeId,
    inclusion_proof,
    leaf_hash,
    nodes_for_append,
    siblings_needed_for_append,
)
from portal.custody.note import format_checkpoint, generate_signer, sign, verifier_from_signer
from portal.custody.offline import canonical_json
from portal.custody.receipt import load_receipt, verify_receipt

ORIGIN = "portal.example/custody"
SKEY = generate_signer(ORIGIN)
VKEY = verifier_from_signer(SKEY)
CONTENT = {"photo.jpg": b"\xff\xd8 a photo", "clip.mp4": b"a video clip" * 100}


AT = "2026-01-02T03:04:05.000000Z"
CONSENT: dict[str, Any] = {
    "version": "1",
    "sha256": "c" * 64,
    "scopes": ["court"],
    "language": "es",
}
UPLOADS = {2: "photo.jpg", 5: "clip.mp4"}
SALTS = {name: f"{i:02x}" * 32 for i, name in enumerate(UPLOADS.values())}


def _event(seq: int) -> bytes:
    """Leaf `seq` of the test log: the consent at 0, the two uploads, and other events."""
    kind = "other.event"
    details: dict[str, Any] = {"note": "other event"}
    if seq == 0:
        kind, details = "consent.given", dict(CONSENT)
    elif seq in UPLOADS:
        data = CONTENT[UPLOADS[seq]]
        kind = "upload.completed"
        details = {
            "name_commitment": commit(UPLOADS[seq], SALTS[UPLOADS[seq]]),
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "media_type": "video/mp4",
        }
    return canonical_json(
        {
            "seq": seq,
            "at": AT,
            "type": kind,
            "actor": "witness:s1",
            "subject": "s1",
            "details": details,
        }
    )


def build() -> dict[str, Any]:
    """A 7-event log holding the consent and two upload events, and a receipt for both files."""
    nodes: dict[NodeId, bytes] = {}
    cr = CompactRange()
    for seq in range(7):
        leaf = leaf_hash(_event(seq))
        siblings = {k: nodes[k] for k in siblings_needed_for_append(seq)}
        nodes.update({(lv, ix): h for lv, ix, h in nodes_for_append(seq, leaf, siblings)})
        cr.append(leaf)

    def proven(seq: int) -> dict[str, Any]:
        proof = inclusion_proof(seq, cr.size, lambda ids: {i: nodes[i] for i in ids})
        return {
            "event": _event(seq).decode(),
            "leaf_index": seq,
            "inclusion_proof": [base64.b64encode(p).decode() for p in proof],
        }

    files = [
        {
            "name": name,
            "name_salt": SALTS[name],
            "size": len(CONTENT[name]),
            "sha256": hashlib.sha256(CONTENT[name]).hexdigest(),
            "media_type": "video/mp4",
            "received_at": AT,
            **proven(seq),
        }
        for seq, name in UPLOADS.items()
    ]
    return {
        "format": "portal-receipt/3",
        "submission": "s1",
        "issued_at": AT,
        "consent": {**CONSENT, "given_at": AT, **proven(0)},
        "log": {"origin": ORIGIN, "public_key": VKEY},
        "checkpoint": sign(format_checkpoint(ORIGIN, cr.size, cr.root()), SKEY),
        "files": files,
    }


def failures(report: Any) -> str:
    return "\n".join(m for ok, m in report.checks if not ok)


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_valid_receipt_with_given_key(tmp_path: Path) -> None:
    receipt = build()
    local = []
    for i, data in enumerate(CONTENT.values()):
        # Named unlike the receipt's files: local copies are found by their SHA-256.
        (tmp_path / f"copy{i}").write_bytes(data)
        local.append(tmp_path / f"copy{i}")
    report = verify_receipt(receipt, VKEY, local)
    assert report.ok, report.text()
    assert report.key_source == "given"
    # A receipt made without a time-stamping authority says so, and warns of nothing else.
    assert [w for w in report.warnings if "timestamp" not in w] == []
    assert sum("inclusion proof valid" in m for _, m in report.checks) == 3
    assert sum(ok and "local file" in m for ok, m in report.checks) == 2
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


def _edit_event(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
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
    "event bytes": (_edit_event(lambda e: e.update(subject="s2")), "inclusion proof FAILED"),
    "event not canonical": (
        lambda r: r["files"][0].update(event=r["files"][0]["event"].replace(":", ": ", 1)),
        "NOT canonical",
    ),
    "event sha256": (
        _edit_event(lambda e: e["details"].update(sha256="0" * 64)),
        "inclusion proof FAILED",
    ),
    "receipt size": (_set_file(0, "size", 11), "files[0].size 11 differs"),
    "receipt sha256": (_set_file(0, "sha256", "ab" * 32), "files[0].sha256"),
    "receipt name": (_set_file(0, "name", "other.jpg"), "files[0].name 'other.jpg' with its"),
    "receipt salt": (_set_file(0, "name_salt", "ab" * 32), "does NOT open the proven event"),
    "salt not hex": (_set_file(0, "name_salt", "zz" * 32), "does NOT open the proven event"),
    "salt missing": (_set_file(0, "name_salt", None), "does NOT open the proven event"),
    "receipt time": (_set_file(0, "received_at", "2020-01-01"), "files[0].received_at"),
    "consent scopes": (lambda r: r["consent"].update(scopes=[]), "consent.scopes [] differs"),
    "submission": (lambda r: r.update(submission="s2"), "not the receipt's 's2'"),
    "proof hash": (_flip_proof, "inclusion proof FAILED"),
    "proof length": (lambda r: r["files"][0]["inclusion_proof"].pop(), "inclusion proof FAILED"),
    "leaf index": (_set_file(0, "leaf_index", 3), "inclusion proof FAILED (leaf index 3)"),
    "leaf index beyond": (_set_file(0, "leaf_index", 9), "not below tree size"),
    "checkpoint text": (_tamper_checkpoint, "signature INVALID"),
    "checkpoint other key": (_resign, "signature INVALID"),
    "origin": (lambda r: r["log"].update(origin="evil.example"), "differs from log origin"),
    "format": (lambda r: r.update(format="portal-receipt/1"), "expected 'portal-receipt/3'"),
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
    report = verify_receipt(build(), VKEY, [tmp_path / "p", tmp_path / "g"])
    text = failures(report)
    assert "is no proven file of the receipt" in text
    assert "/g unreadable" in text


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


def test_name_erased_at_withdrawal_is_not_verified_yet_the_rest_holds() -> None:
    receipt = build()
    receipt["files"][0].update(name=None, name_salt=None)
    report = verify_receipt(receipt, VKEY)
    assert report.ok, report.text()
    assert "files[0].name" in report.text() and "erased at withdrawal" in report.text()


def test_the_event_holds_a_commitment_not_the_name() -> None:
    receipt = build()
    event = json.loads(receipt["files"][0]["event"])
    assert "filename" not in event["details"]
    assert "photo.jpg" not in receipt["files"][0]["event"]


def test_only_the_canonical_salt_opens_a_commitment() -> None:
    # Hex is read case-blind: an upper-cased salt (an edited receipt) must not pass as the same.
    salt = "ab" * 32
    made = commitment.commit("IMG_0042.mp4", salt)
    assert commitment.opens(made, "IMG_0042.mp4", salt)
    assert not commitment.opens(made, "IMG_0042.mp4", salt.upper())
    assert not commitment.opens(made, "IMG_0042.mp4", salt[:-1] + "B")
