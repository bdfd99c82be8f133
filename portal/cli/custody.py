"""`portal custody recover`; registered on the `custody` group (portal.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from portal.config import Settings
from portal.errors import PortalError

console = Console()
err = Console(stderr=True)


def recover_command(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Overrides PORTAL_DATA_DIR.", show_default=False),
    ] = None,
) -> None:
    """Put back log entries a restored database lost, from the tiles in storage (each
    checked against the last signed checkpoint); rebuild the rows of received items as far
    as the logged events allow, and list those it cannot."""
    from portal.app import build_runtime
    from portal.flows.log_recovery import recover_log

    rt = build_runtime(Settings(data_dir=data_dir) if data_dir else Settings())
    try:
        found, rebuilt, lost = recover_log(rt)
    except PortalError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {exc.message}", markup=True)
        raise typer.Exit(1) from None
    cp = found.checkpoint
    if not found.restored:
        console.print(f"the database's log already extends checkpoint {cp.size}: nothing to do")
        return
    console.print(
        f"restored entries {found.before}..{cp.size - 1} and {found.checkpoints} checkpoints "
        f"from storage, checked against checkpoint {cp.size}"
    )
    for row in rebuilt:
        entries = ", ".join(str(seq) for seq in row.entries)
        console.print(f"rebuilt the {row.kind} row {row.id} from entries {entries}")
    for item in lost:
        console.print(
            f"received but not in the database: entry {item.seq} {item.type} {item.subject} "
            f"sha256 {item.sha256} ({item.size} bytes); its original is kept",
            markup=False,
            highlight=False,
        )
