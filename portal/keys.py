"""Secrets kept on disk beside, never inside, the database."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from portal.custody.note import NoteError, generate_signer, signer_name

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


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


def contact_cipher(path: Path) -> Fernet:
    from cryptography.fernet import Fernet

    return Fernet(read_or_create_secret(path, Fernet.generate_key()))


def rate_limit_key(contact_key_file: Path) -> bytes:
    """HMAC key for rate-limit counters, derived (HKDF-SHA256) from the contact key.

    Derived rather than a file of its own: every instance must hold the same key or each would
    count alone, and every instance already mounts the contact key. Whoever has the contact key
    can read the witnesses' contact details anyway, so this adds nothing for them to take.
    """
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    material = read_or_create_secret(contact_key_file, Fernet.generate_key())
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal rate limits")
    return hkdf.derive(material)


def recipient_key(contact_key_file: Path) -> bytes:
    """HMAC key for the commitments to a one-time link's recipient (name and phone).

    Derived from the contact key like the rate-limit key: kept outside the database, so a copy
    of the database alone cannot test guessed phone numbers against a commitment.
    """
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    material = read_or_create_secret(contact_key_file, Fernet.generate_key())
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal recipients")
    return hkdf.derive(material)


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
