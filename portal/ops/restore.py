"""`portal restore`: a backup put back as the data folder, checked before anything is replaced.

The backup is copied into a folder beside the data folder and checked there: every file
against the manifest (a missing, extra or changed file is refused), every original against
the SHA-256 it is named by, the remembered checkpoint against the log key, and the database's
log against that checkpoint. Only then is the data folder swapped for it, and a data folder
already there is kept aside, not deleted. A backup whose signed log is shorter than the one
the data folder already signed is refused: restoring it would roll the log back (see
portal.custody.mirror).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from portal.clock import utcnow
from portal.config import Settings
from portal.custody import note
from portal.custody.mirror import CHECKPOINTS, Signed, contradiction
from portal.db import make_engine
from portal.errors import BadRequest, Conflict
from portal.ops.backup import (
    DATABASE,
    FORMAT,
    KEYS,
    MANIFEST,
    REMEMBERED,
    STORAGE,
    files_under,
    sha256_file,
)


class BackupInvalid(BadRequest):
    code = "backup_invalid"


class LogNewer(Conflict):
    code = "log_newer"


@dataclass(frozen=True)
class Restored:
    files: int
    checkpoint_size: int
    kept_aside: Path | None


def _manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    if not path.is_file():
        raise BackupInvalid(f"{src} has no {MANIFEST}: it is not a backup, or a partial one")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeError) as exc:
        raise BackupInvalid(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupInvalid(f"{path} is not a {FORMAT} manifest")
    if not isinstance(manifest.get("files"), dict):
        raise BackupInvalid(f"{path} lists no files")
    return manifest


def check_files(folder: Path, listed: dict[str, str]) -> None:
    """Every listed file present with its hash, nothing unlisted; originals match their name."""
    found = {p.relative_to(folder).as_posix(): p for p in files_under(folder)}
    found.pop(MANIFEST, None)
    if missing := sorted(set(listed) - set(found)):
        raise BackupInvalid(f"the backup is partial: {len(missing)} files missing ({missing[0]})")
    if extra := sorted(set(found) - set(listed)):
        raise BackupInvalid(f"the backup holds files its manifest does not list ({extra[0]})")
    for name, path in found.items():
        digest = sha256_file(path)
        if digest != listed[name]:
            raise BackupInvalid(f"{name} does not match the manifest's SHA-256: it was altered")
        parts = name.split("/")
        if parts[:2] == [STORAGE, "sha256"] and parts[-1] != digest:
            raise BackupInvalid(f"the original {name} does not hash to its name")


def _signed_size(text: str, verifier: str, where: str) -> Signed:
    try:
        return Signed(note.parse_checkpoint(note.open_note(text, verifier)), text)
    except (note.NoteError, UnicodeError) as exc:
        raise BackupInvalid(f"the checkpoint in {where} does not verify: {exc}") from None


def check_log(folder: Path) -> int:
    """The log checkpoint the backup remembers verifies, and its database holds that log."""
    key_file = folder / KEYS / "log.key"
    if not key_file.is_file():
        raise BackupInvalid("the backup holds no log signing key")
    verifier = note.verifier_from_signer(key_file.read_text("ascii").strip())
    remembered = folder / KEYS / REMEMBERED
    if not remembered.is_file():
        return 0  # nothing signed yet
    last = _signed_size(remembered.read_text("utf-8"), verifier, REMEMBERED)
    engine = make_engine(f"sqlite:///{folder / DATABASE}")
    try:
        with Session(engine) as db:
            why = contradiction(db, last)
    finally:
        engine.dispose()
    if why is not None:
        raise BackupInvalid(f"the backup's database does not hold its signed log: {why}")
    return last.checkpoint.size


def signed_size_in(data_dir: Path) -> int:
    """The largest checkpoint size the data folder has signed (0 when none)."""
    sizes = [0]
    remembered = data_dir / KEYS / REMEMBERED
    if remembered.is_file():
        lines = remembered.read_text("utf-8", errors="replace").split("\n")
        if len(lines) > 1 and lines[1].isdigit():
            sizes.append(int(lines[1]))
    folder = data_dir / STORAGE / CHECKPOINTS
    if folder.is_dir():
        sizes += [int(p.name) for p in folder.iterdir() if p.name.isdigit()]
    return max(sizes)


def _place(src: Path, staging: Path) -> None:
    for path in files_under(src):
        rel = path.relative_to(src)
        if rel.as_posix() == MANIFEST:
            continue
        dst = staging / rel
        dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Partials and the database change in place once the portal runs: copies. The rest is
        # written once and only replaced, so links keep the backup as it was.
        if (
            rel.parts[0] == DATABASE
            or rel.parts[:2] == (STORAGE, "partial")
            or rel.parts[0] == KEYS
        ):
            shutil.copy2(path, dst)
        else:
            try:
                os.link(path, dst)
            except OSError:
                shutil.copy2(path, dst)


def _check_target(settings: Settings) -> Path:
    data = settings.data_dir.absolute()
    for name, path in (
        ("log.key", settings.resolved_log_key_file),
        ("contact.key", settings.resolved_contact_key_file),
    ):
        if path.absolute() != data / KEYS / name:
            raise BackupInvalid(
                f"restore puts the keys in {data / KEYS}; unset the setting that keeps "
                f"{name} at {path}, or copy the backup's keys/{name} there yourself"
            )
    if settings.database_url or settings.storage_url:
        raise BackupInvalid("restore puts back the embedded default (SQLite, storage folder)")
    return data


def restore_backup(settings: Settings, src: Path) -> Restored:
    """Check the backup `src`, then make it the data folder; refuse a rollback of the log."""
    data = _check_target(settings)
    src = src.absolute()
    if not src.is_dir():
        raise BackupInvalid(f"no backup folder at {src}")
    manifest = _manifest(src)
    check_files(src, manifest["files"])
    held = signed_size_in(data) if data.exists() else 0
    staging = data.with_name(f"{data.name}.restoring")
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted restore; never the live folder
    staging.mkdir(mode=0o700, parents=True)
    try:
        _place(src, staging)
        check_files(staging, manifest["files"])
        size = check_log(staging)
        if held > size:
            raise LogNewer(
                f"the data folder has signed a log of {held} entries, this backup only {size}: "
                "restoring it would roll the custody log back. Restore a newer backup, or keep "
                "this one's evidence with `portal custody recover` after restoring elsewhere"
            )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    aside = None
    if data.exists() and any(data.iterdir()):
        aside = data.with_name(f"{data.name}.before-restore-{utcnow():%Y%m%dT%H%M%S}")
        os.rename(data, aside)
    elif data.exists():
        data.rmdir()
    os.rename(staging, data)
    return Restored(files=len(manifest["files"]), checkpoint_size=size, kept_aside=aside)
