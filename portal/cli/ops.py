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

    try:
        manifest = take_backup(_settings(data_dir), dest)
    except PortalError as exc:
        _fail(exc)
        return
    files = manifest["files"]
    assert isinstance(files, dict)
    console.print(
        f"backed up {len(files)} files to {dest} (log of {manifest['log_size']} entries, "
        f"checkpoint {manifest['checkpoint_size']})",
        highlight=False,
    )


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
