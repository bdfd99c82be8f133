"""C2SP signed-note (Ed25519) and tlog-checkpoint, compatible with golang.org/x/mod/sumdb/note.

Key strings use the Go formats:
  verifier  <name>+<8 hex key ID>+<base64(0x01 || 32-byte public key)>
  signer    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>
with key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian.

Only the standard library and `cryptography`: usable offline by a court expert.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100  # as Go's Open; the spec asks verifiers to accept at least 16
ROOT_SIZE = 32

# Unicode White_Space, which Go's unicode.IsSpace tests; str.isspace() differs slightly.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """Malformed note or key, or no valid signature by the expected key."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Verifier:
    name: str
    key_id: int
    public: Ed25519PublicKey


@dataclass(frozen=True)
class _Signer:
    name: str
    key_id: int
    private: Ed25519PrivateKey


def key_id(name: str, public_key: bytes) -> int:
    """Key ID of an Ed25519 key (C2SP signed-note): first 4 bytes of the hash, big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _valid_name(name: str) -> bool:
    return name != "" and "+" not in name and not any(c in _SPACES for c in name)


def decode_base64(s: str) -> bytes:
    """Standard base64 as Go's StdEncoding: padding required, no foreign characters."""
    try:
        return binascii.a2b_base64(s.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise NoteError(f"bad base64 {s!r}: {e}") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _parse_verifier(vkey: str) -> _Verifier:
    parts = vkey.split("+", 2)  # base64 may itself contain '+'
    if len(parts) != 3:
        raise NoteError("malformed verifier key: want <name>+<hex id>+<base64 key>")
    name, hex_id, b64 = parts
    if not _valid_name(name) or not _HEX8.fullmatch(hex_id):
        raise NoteError("malformed verifier key: bad name or key ID")
    raw = decode_base64(b64)
    if len(raw) != 1 + 32 or raw[0] != ALG_ED25519:
        raise NoteError("verifier key is not an Ed25519 key (0x01 || 32 bytes)")
    if int(hex_id, 16) != key_id(name, raw[1:]):
        raise NoteError("verifier key ID does not match its name and public key")
    try:
        public = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError as e:
        raise NoteError(f"unusable Ed25519 public key: {e}") from None
    return _Verifier(name, int(hex_id, 16), public)


def _parse_signer(skey: str) -> _Signer:
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise NoteError("malformed signer key: want PRIVATE+KEY+<name>+<hex id>+<base64 key>")
    _, _, name, hex_id, b64 = parts
    if not _valid_name(name) or not _HEX8.fullmatch(hex_id):
        raise NoteError("malformed signer key: bad name or key ID")
    raw = decode_base64(b64)
    if len(raw) != 1 + 32 or raw[0] != ALG_ED25519:
        raise NoteError("signer key is not an Ed25519 seed (0x01 || 32 bytes)")
    private = Ed25519PrivateKey.from_private_bytes(raw[1:])
    # The ID is over the public key; checking it catches a key file edited by hand.
    if int(hex_id, 16) != key_id(name, _raw_public(private.public_key())):
        raise NoteError("signer key ID does not match its name and public key")
    return _Signer(name, int(hex_id, 16), private)


def generate_signer(name: str) -> str:
    if not _valid_name(name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, no spaces or '+'")
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    kid = key_id(name, _raw_public(private.public_key()))
    return f"PRIVATE+KEY+{name}+{kid:08x}+{_b64(bytes([ALG_ED25519]) + seed)}"


def signer_name(skey: str) -> str:
    """The key name inside a signer key string (NoteError if it is malformed)."""
    return _parse_signer(skey).name


def verifier_from_signer(skey: str) -> str:
    signer = _parse_signer(skey)
    public = _raw_public(signer.private.public_key())
    return f"{signer.name}+{signer.key_id:08x}+{_b64(bytes([ALG_ED25519]) + public)}"


def _check_chars(s: str, what: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None
    if any(c < " " and c != "\n" for c in s):
        raise NoteError(f"{what} contains an ASCII control character other than newline")


def sign(text: str, skey: str) -> str:
    """The signed note: text, a blank line, one signature line."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_chars(text, "note text")
    signer = _parse_signer(skey)
    sig = signer.private.sign(text.encode("utf-8"))
    blob = signer.key_id.to_bytes(4, "big") + sig
    return f"{text}\n{SIG_PREFIX}{signer.name} {_b64(blob)}\n"


def cosign(signed_note: str, skey: str) -> str:
    """`signed_note` with one more signature line, by `skey`, over the same text (a note may
    carry several: a log key's rotation is a checkpoint both keys sign)."""
    text, _ = split_note(signed_note)
    return signed_note + sign(text, skey)[len(text) + 1 :]


def split_note(note: str) -> tuple[str, list[str]]:
    """(text, signature lines) of a note, checking its shape but no signature."""
    _check_chars(note, "note")
    # The text ends at the *last* blank line; the text itself may contain blank lines.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs or not sigs.endswith("\n"):
        raise NoteError("malformed note: signature block missing or not newline-terminated")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    return text, lines


def open_note(note: str, vkey: str) -> str:
    """Verify `note` against verifier key `vkey`; return its text.

    As Go's note.Open: every signature line must be well-formed, signatures by other keys
    are ignored, and a signature by this key that fails to verify rejects the note.
    """
    verifier = _parse_verifier(vkey)
    text, lines = split_note(note)
    verified = False
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise NoteError("malformed note: signature line does not start with an em dash")
        name, sep, b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not sep or not b64 or not _valid_name(name):
            raise NoteError("malformed note: bad signature line")
        blob = decode_base64(b64)
        if len(blob) < 5:
            raise NoteError("malformed note: signature too short")
        if name != verifier.name or int.from_bytes(blob[:4], "big") != verifier.key_id:
            continue
        if verified:
            continue  # repeated signature by the same key, ignored as Go does
        try:
            verifier.public.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise NoteError(
                f"invalid signature for key {verifier.name}+{verifier.key_id:08x}"
            ) from None
        verified = True
    if not verified:
        raise NoteError(f"note has no signature by key {verifier.name}+{verifier.key_id:08x}")
    return text


# --- tlog-checkpoint -----------------------------------------------------------------------


def format_checkpoint(origin: str, size: int, root: bytes) -> str:
    if not origin or "\n" in origin:
        raise NoteError("checkpoint origin must be a non-empty single line")
    _check_chars(origin, "checkpoint origin")
    if size < 0:
        raise NoteError(f"tree size must be >= 0, got {size}")
    if len(root) != ROOT_SIZE:
        raise NoteError(f"root hash is {len(root)} bytes, want {ROOT_SIZE}")
    return f"{origin}\n{size}\n{_b64(root)}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (the part before the blank line), strictly."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint text must end with a newline")
    _check_chars(text, "checkpoint")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint needs origin, tree size and root hash lines")
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise NoteError("checkpoint origin is empty")
    # C2SP: ASCII decimal, no leading zeroes; the size is a uint64.
    if not _DECIMAL.fullmatch(size_line) or int(size_line) >= 1 << 64:
        raise NoteError(f"malformed checkpoint tree size {size_line!r}")
    root = decode_base64(root_line)
    if _b64(root) != root_line:
        raise NoteError(f"non-canonical base64 root hash {root_line!r}")
    if len(root) != ROOT_SIZE:
        raise NoteError(f"checkpoint root hash is {len(root)} bytes, want {ROOT_SIZE}")
    if any(not line for line in extensions):
        raise NoteError("checkpoint extension lines must be non-empty")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))
