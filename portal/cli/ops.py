"""`portal backup` and `portal restore`; registered on the app (portal.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from portal.config import Settings
from portal.errors import PortalError

console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Overrides PORTAL_DATA_DIR.", show_default=False),
]


def _settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir else Settings()


def _fail(exc: PortalError) -> None:
    err.print(f"[red]error[/red] ({exc.code}): {exc.message}", highlight=False)
    raise typer.Exit(1)


def backup_command(
    dest: Annotated[Path, typer.Argument(help="A new folder, outside the data folder.")],
    data_dir: DataDir = None,
) -> None:
    """Copy the database (SQLite's online backup), the storage folder and the keys into DEST
    with a manifest of SHA-256 hashes, while the portal runs. Keep it as safe as the keys."""
    from portal.ops.backup import take_backup

    settings = _settings(data_dir)
    try:
        manifest = take_backup(settings, dest)
    except PortalError as exc:
        _fail(exc)
        return
    files = manifest["files"]
    assert isinstance(files, dict)
    _log_backup(settings, dest, manifest, len(files))
    console.print(
        f"backed up {len(files)} files to {dest} (log of {manifest['log_size']} entries, "
        f"checkpoint {manifest['checkpoint_size']})",
        highlight=False,
    )


def _log_backup(settings: Settings, dest: Path, manifest: dict[str, object], files: int) -> None:
    """A backup copies every original out of the portal: a touch of evidence, so the live log
    records it (after the copy, which therefore does not hold this event)."""
    from portal.app import build_runtime
    from portal.custody import service as custody
    from portal.custody.events import EventType
    from portal.db import transaction
    from portal.ops.backup import MANIFEST, sha256_file

    rt = build_runtime(settings)
    digest = sha256_file(dest / MANIFEST)
    try:
        with transaction(rt.sessions) as db:
            custody.append(
                db,
                type=EventType.BACKUP_TAKEN,
                actor=custody.SYSTEM,
                subject="backup",
                details={
                    "manifest_sha256": digest,
                    "files": files,
                    "log_size": manifest["log_size"],
                },
                at=rt.clock(),
            )
    finally:
        rt.engine.dispose()


def restore_command(
    src: Annotated[Path, typer.Argument(help="A folder written by `portal backup`.")],
    data_dir: DataDir = None,
) -> None:
    """Check the backup SRC (every hash, every original, the signed log) and make it the data
    folder; a data folder already there is kept aside. Stop the portal first. Refused when
    the data folder has signed a longer log than the backup holds."""
    from portal.ops.restore import restore_backup

    try:
        done = restore_backup(_settings(data_dir), src)
    except PortalError as exc:
        _fail(exc)
        return
    console.print(
        f"restored {done.files} files, checked against checkpoint {done.checkpoint_size}",
        highlight=False,
    )
    if done.kept_aside is not None:
        console.print(f"the previous data folder is kept at {done.kept_aside}", highlight=False)
