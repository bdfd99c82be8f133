from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from portal.custody.note import (
    Checkpoint,
    NoteError,
    format_checkpoint,
    generate_signer,
    key_id,
    open_note,
    parse_checkpoint,
    sign,
    verifier_from_signer,
)
from portal.keys import load_or_create_signer

# Known answer from the golang.org/x/mod/sumdb/note documentation (Ed25519 is deterministic).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
    "dngotpRZb6KE6RyyBwJnAM=\n"
)
ROOT = hashlib.sha256(b"root").digest()


def test_go_interop() -> None:
    assert verifier_from_signer(GO_SKEY) == GO_VKEY
    assert sign(GO_TEXT, GO_SKEY) == GO_NOTE
    assert open_note(GO_NOTE, GO_VKEY) == GO_TEXT


def test_round_trip_and_key_id() -> None:
    skey = generate_signer("portal.example/log")
    vkey = verifier_from_signer(skey)
    text = format_checkpoint("portal.example/log", 5, ROOT)
    note = sign(text, skey)
    assert open_note(note, vkey) == text

    name, hex_id, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 0x01 and len(raw) == 33
    expected = hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()[:4]
    assert bytes.fromhex(hex_id) == expected
    assert key_id(name, raw[1:]) == int.from_bytes(expected, "big")
    assert skey.startswith(f"PRIVATE+KEY+{name}+{hex_id}+")
    line = note.split("\n\n")[-1]
    assert line.startswith("\u2014 portal.example/log ")
    assert base64.b64decode(line.split(" ")[2])[:4] == expected


def test_tampering_fails() -> None:
    skey = generate_signer("log")
    vkey = verifier_from_signer(skey)
    note = sign("log\n5\n" + base64.b64encode(ROOT).decode() + "\n", skey)
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(note.replace("\n5\n", "\n6\n"), vkey)
    text, sig = note.rsplit(" ", 1)
    blob = bytearray(base64.b64decode(sig))
    blob[10] ^= 1
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(f"{text} {base64.b64encode(bytes(blob)).decode()}\n", vkey)
    with pytest.raises(NoteError, match="no signature"):
        open_note(note, verifier_from_signer(generate_signer("log")))
    with pytest.raises(NoteError, match="no signature"):
        open_note(note, verifier_from_signer(generate_signer("other")))
    for bad in (note.replace("\u2014", "-"), note[:-1], note.replace("\n\n", "\n"), "x\x01" + note):
        with pytest.raises(NoteError):
            open_note(bad, vkey)


def test_unknown_signatures_are_ignored() -> None:
    skey, other = generate_signer("log"), generate_signer("witness")
    note = sign("hello\n", skey)
    extra = sign("hello\n", other).split("\n\n", 1)[1]
    assert open_note(note + extra, verifier_from_signer(skey)) == "hello\n"
    assert open_note(note + extra, verifier_from_signer(other)) == "hello\n"


def test_bad_keys() -> None:
    skey = generate_signer("log")
    vkey = verifier_from_signer(skey)
    name, hex_id, b64 = vkey.split("+", 2)
    wrong_id = f"{int(hex_id, 16) ^ 1:08x}"
    for bad in (f"{name}+{wrong_id}+{b64}", f"x y+{hex_id}+{b64}", f"{name}+0x{hex_id[2:]}+{b64}"):
        with pytest.raises(NoteError):
            open_note(sign("a\n", skey), bad)
    with pytest.raises(NoteError):
        sign("a\n", skey.replace(hex_id, wrong_id))
    with pytest.raises(NoteError):
        sign("no newline", skey)
    with pytest.raises(NoteError):
        generate_signer("has space")


def test_checkpoint_round_trip() -> None:
    text = format_checkpoint("example.com/log", 20852163, ROOT)
    assert text == f"example.com/log\n20852163\n{base64.b64encode(ROOT).decode()}\n"
    assert parse_checkpoint(text) == Checkpoint("example.com/log", 20852163, ROOT)
    assert parse_checkpoint(text + "ext\n").extensions == ("ext",)
    assert parse_checkpoint(format_checkpoint("o", 0, ROOT)).size == 0


@pytest.mark.parametrize(
    "size,root",
    [
        ("01", None),
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        (" 1", None),
        ("", None),
        (str(1 << 64), None),
        ("\u0661", None),  # Arabic-Indic digit one: int() would accept it
        ("1", "not base64!"),
        ("1", base64.b64encode(ROOT[:31]).decode()),
        ("1", base64.b64encode(ROOT).decode().rstrip("=")),
        ("1", base64.b64encode(ROOT).decode()[:-2] + "9="),  # non-canonical trailing bits
    ],
)
def test_checkpoint_strict(size: str, root: str | None) -> None:
    root = base64.b64encode(ROOT).decode() if root is None else root
    with pytest.raises(NoteError):
        parse_checkpoint(f"origin\n{size}\n{root}\n")


def test_checkpoint_shape_rejects() -> None:
    good = format_checkpoint("o", 1, ROOT)
    for bad in (good[:-1], "\n" + good[2:], "o\n1\n", good + "\n", good + "ext\n\nx\n"):
        with pytest.raises(NoteError):
            parse_checkpoint(bad)
    with pytest.raises(NoteError):
        format_checkpoint("o", 1, ROOT[:16])
    with pytest.raises(NoteError):
        format_checkpoint("two\nlines", 1, ROOT)


def test_key_file(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    old = os.umask(0)  # creation must not rely on the umask
    try:
        skey = load_or_create_signer(path, "log")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_signer(path, "log") == skey
    with pytest.raises(NoteError):
        load_or_create_signer(path, "another-name")
    path.chmod(0o644)
    with pytest.raises(PermissionError):
        load_or_create_signer(path, "log")
    path.chmod(0o640)
    with pytest.raises(PermissionError):
        load_or_create_signer(path, "log")
