"""The data folder holds the database, local storage and keys: owner-only, or no start."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnsafePermissions(PermissionError):
    """The data folder lets other local users in; the message says how to fix it."""


def prepare(data_dir: Path) -> None:
    """Create the data folder as 0700 on first start; refuse one that group or others may
    enter or read, since it holds every video, the incident text and the signing keys."""
    if not data_dir.exists():
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        data_dir.mkdir(mode=0o700, exist_ok=True)
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UnsafePermissions(
            f"the data folder {data_dir} is open to other users (mode {mode:o}); "
            f"it holds evidence and keys. Fix it with: chmod -R go-rwx {data_dir}"
        )


def private_database(path: Path) -> None:
    """Create the SQLite file as 0600 before SQLite does (it would use the umask, often
    giving 0644; its -wal and -shm files copy the database file's mode), and narrow an
    existing one made by an older version."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)
