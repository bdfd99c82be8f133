"""Secrets kept on disk beside, never inside, the database."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet


def read_or_create_secret(path: Path, make: bytes) -> bytes:
    """Return the file's bytes, creating it with `make` (mode 0600, never briefly wider)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(f"{path} is readable by others; chmod 600 it") from None
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(make)
        f.flush()
        os.fsync(f.fileno())
    return make


def contact_cipher(path: Path) -> Fernet:
    return Fernet(read_or_create_secret(path, Fernet.generate_key()))
