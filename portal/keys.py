"""Secrets kept on disk beside, never inside, the database."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from portal.custody.note import NoteError, generate_signer, signer_name

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


def read_or_create_secret(path: Path, make: bytes) -> bytes:
    """The file's bytes, creating it with `make` first if absent.

    Created with O_EXCL and mode 0600 (never briefly wider, never overwritten); an existing
    file that group or others may access is refused, judged on the opened file (fstat) so a
    swapped path cannot slip in between. Standard library only: the offline verifier uses it.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(make)
            f.flush()
            os.fsync(f.fileno())
        return make.strip()  # as a later read returns it
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(
                f"secret file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(mode):o}); run chmod 600 on it"
            )
        return f.read().strip()


class ContactCipher:
    """The contact key file's keys as one MultiFernet: encrypts under the first line, opens
    anything any line opens.

    The file holds one key, or during a rotation several (newest first; portal.flows.
    key_rotation). It is read again whenever it changes on disk, so instances that keep
    running through a rotation encrypt under the new key and read both.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._cipher: MultiFernet | None = None
        self._lock = threading.Lock()

    def _current(self) -> MultiFernet:
        from cryptography.fernet import Fernet, MultiFernet

        st = os.stat(self.path) if self.path.exists() else None
        seen = None if st is None else (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._cipher is None or seen != self._seen:
                keys = contact_keys(self.path)
                self._cipher = MultiFernet([Fernet(k) for k in keys])
                self._seen = seen if seen is not None else _stat_of(self.path)
            return self._cipher

    def encrypt(self, data: bytes) -> bytes:
        return self._current().encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        return self._current().decrypt(token)


def _stat_of(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def contact_keys(path: Path) -> list[bytes]:
    """The contact key file's keys, newest first (created with one key if absent)."""
    from cryptography.fernet import Fernet

    text = read_or_create_secret(path, Fernet.generate_key())
    return [line.strip() for line in text.splitlines() if line.strip()]


def contact_cipher(path: Path) -> ContactCipher:
    return ContactCipher(path)


def derived_keys_file(contact_key_file: Path) -> Path:
    """Where the keys derived from the first contact key are pinned once it is rotated."""
    return contact_key_file.with_name(contact_key_file.name + ".derived")


def _derived(contact_key_file: Path, info: bytes) -> bytes:
    """HKDF-SHA256 of the contact key, or the value pinned before its first rotation.

    Pinned rather than derived from the newest key: a rotation must not change what the
    rate-limit counters and the recipient commitments already stored were keyed with.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    pinned = derived_keys_file(contact_key_file)
    if pinned.exists():
        lines = read_or_create_secret(pinned, b"").decode().splitlines()
        values = {name: value for value, name in (line.split(" ", 1) for line in lines)}
        return bytes.fromhex(values[info.decode()])
    material = contact_keys(contact_key_file)[-1]
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return hkdf.derive(material)


DERIVED = (b"portal rate limits", b"portal recipients")


def pin_derived_keys(contact_key_file: Path) -> None:
    """Keep the derived keys in a file of their own (0600), once, before a first rotation."""
    pinned = derived_keys_file(contact_key_file)
    if pinned.exists():
        return
    text = "".join(
        f"{_derived(contact_key_file, info).hex()} {info.decode()}\n" for info in DERIVED
    )
    read_or_create_secret(pinned, text.encode())


def rate_limit_key(contact_key_file: Path) -> bytes:
    """HMAC key for rate-limit counters, derived (HKDF-SHA256) from the contact key.

    Derived rather than a file of its own: every instance must hold the same key or each would
    count alone, and every instance already mounts the contact key. Whoever has the contact key
    can read the witnesses' contact details anyway, so this adds nothing for them to take.
    """
    return _derived(contact_key_file, DERIVED[0])


def recipient_key(contact_key_file: Path) -> bytes:
    """HMAC key for the commitments to a one-time link's recipient (name and phone).

    Derived from the contact key like the rate-limit key: kept outside the database, so a copy
    of the database alone cannot test guessed phone numbers against a commitment.
    """
    return _derived(contact_key_file, DERIVED[1])


def load_or_create_signer(path: Path, name: str) -> str:
    """Signer key for `name` kept in `path`, created (mode 0600) on first use.

    Refuses a file that group or others may access: a leaked log key lets anyone forge
    checkpoints, which would void every receipt's evidential value.
    """
    # Generated first, so a bad name leaves no empty file behind.
    skey = read_or_create_secret(path, (generate_signer(name) + "\n").encode()).decode("ascii")
    held = signer_name(skey)
    if held != name:
        raise NoteError(f"key file {path} holds a key named {held!r}, expected {name!r}")
    return skey
