"""`portal backup`: a consistent copy of the embedded default (SQLite and a local folder) while
it runs.

Order matters. The database is copied first, with SQLite's online backup API (a snapshot that
never blocks the writer for long). Storage is copied after it: originals, derivatives, the
log's tiles and lock records are written once and replaced, never edited, so a hard link is a
snapshot; partial uploads grow in place, so they are copied, and bytes past the offset the
snapshot remembers are cut off by the upload's next PATCH. The log's checkpoint remembered
beside the key is taken from the snapshot, and tiles or checkpoints signed after it are left
out: a restored portal must find the log it holds, not a later one it would refuse as rolled
back. The manifest (SHA-256 of every file) is written last and the folder renamed into place,
so a backup without one is partial.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from portal.clock import utcnow
from portal.config import Settings
from portal.custody import tiles
from portal.custody.mirror import CHECKPOINTS, PREFIX
from portal.errors import BadRequest

FORMAT = "portal-backup/1"
MANIFEST = "manifest.json"
DATABASE = "portal.db"
STORAGE = "storage"
KEYS = "keys"
REMEMBERED = "log.checkpoint"  # the name Runtime.log_mirror gives it beside log.key


class BackupRefused(BadRequest):
    code = "backup_refused"


@dataclass(frozen=True)
class Sources:
    """Where the embedded default keeps what a backup copies."""

    database: Path
    storage: Path
    keys: dict[str, Path]  # name in the backup -> file

    @classmethod
    def of(cls, settings: Settings) -> Sources:
        db_url = make_url(settings.resolved_database_url)
        storage_url = settings.resolved_storage_url
        if db_url.get_backend_name() != "sqlite" or not storage_url.startswith("file://"):
            raise BackupRefused(
                "portal backup copies the embedded default (SQLite and a storage folder); "
                "for PostgreSQL and S3 use pg_dump or PITR and bucket versioning with "
                "replication (docs/operations.md)"
            )
        keys = {
            "log.key": settings.resolved_log_key_file,
            "contact.key": settings.resolved_contact_key_file,
        }
        if settings.keys_dir.is_dir():  # whatever else lives beside them (pinned derived keys)
            for path in sorted(settings.keys_dir.iterdir()):
                if path.is_file() and path.suffix not in {".tmp", ".checkpoint"}:
                    keys.setdefault(path.name, path)
        return cls(
            database=Path(str(db_url.database)),
            storage=Path(storage_url.removeprefix("file://")),
            keys={name: path for name, path in keys.items() if path.exists()},
        )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def files_under(root: Path) -> Iterator[Path]:
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            if not name.endswith(".tmp"):
                yield Path(dirpath) / name


def _check_destination(settings: Settings, dest: Path) -> Path:
    dest = dest.absolute()
    if dest.exists() or dest.is_symlink():
        raise BackupRefused(f"the backup destination {dest} exists; name a new folder")
    data = settings.data_dir.resolve()
    if dest.resolve().is_relative_to(data):
        raise BackupRefused(
            f"the backup destination {dest} is inside the data folder {data}; a backup there "
            "is lost with it (and would be copied into itself)"
        )
    if not dest.parent.is_dir():
        raise BackupRefused(f"the folder {dest.parent} to hold the backup does not exist")
    return dest


def _snapshot_database(source: Path, target: Path) -> tuple[int, str | None]:
    """Copy the database online; the snapshot's log size and its newest checkpoint note."""
    if not source.exists():
        raise BackupRefused(f"no database at {source}: nothing to back up")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        size = dst.execute("SELECT size FROM log_head WHERE id = 1").fetchone()
        row = dst.execute("SELECT note FROM log_checkpoints ORDER BY size DESC LIMIT 1").fetchone()
    finally:
        dst.close()
        src.close()
    return (int(size[0]) if size else 0), (str(row[0]) if row else None)


def _within(key: str, size: int) -> bool:
    """Is this log/ object part of the log up to the checkpoint of `size`?"""
    rest = key.removeprefix(PREFIX)
    if key.startswith(CHECKPOINTS):
        return int(key.removeprefix(CHECKPOINTS)) <= size
    try:
        tile = tiles.parse_tile_path(rest)
    except tiles.TileError:
        return False
    covered: int = (tile.index * tiles.WIDTH + tile.width) * tiles.WIDTH ** max(tile.level, 0)
    return covered <= size


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links refused: a copy is as good
        shutil.copy2(src, dst)


def _copy_storage(root: Path, target: Path, checkpoint_size: int) -> None:
    for path in files_under(root):
        rel = path.relative_to(root)
        key = rel.as_posix()
        if key.startswith(PREFIX) and not _within(key, checkpoint_size):
            continue
        dst = target / rel
        try:
            if rel.parts[0] == "partial":  # written in place: a link would follow the writes
                dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                shutil.copy2(path, dst)
            else:
                _link_or_copy(path, dst)
        except FileNotFoundError:  # finished or purged while we walked: the snapshot decides
            continue


def write_manifest(folder: Path, meta: dict[str, object]) -> dict[str, object]:
    files = {
        path.relative_to(folder).as_posix(): sha256_file(path)
        for path in files_under(folder)
        if path.name != MANIFEST
    }
    manifest = {**meta, "files": files}
    fd = os.open(folder / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    return manifest


def take_backup(settings: Settings, dest: Path) -> dict[str, object]:
    """Back up the embedded default into the new folder `dest`; returns the manifest."""
    sources = Sources.of(settings)
    dest = _check_destination(settings, dest)
    work = dest.with_name(dest.name + ".partial")
    if work.exists():
        raise BackupRefused(f"{work} is left from an interrupted backup; remove it first")
    work.mkdir(mode=0o700)
    try:
        log_size, note = _snapshot_database(sources.database, work / DATABASE)
        checkpoint_size = 0 if note is None else int(note.split("\n")[1])
        _copy_storage(sources.storage, work / STORAGE, checkpoint_size)
        (work / KEYS).mkdir(mode=0o700)
        for name, path in sources.keys.items():
            shutil.copy2(path, work / KEYS / name)
        if note is not None:
            fd = os.open(work / KEYS / REMEMBERED, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(note)
        manifest = write_manifest(
            work,
            {
                "format": FORMAT,
                "created": utcnow().isoformat(),
                "log_size": log_size,
                "checkpoint_size": checkpoint_size,
            },
        )
        os.rename(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest
