"""`portal export` and `portal verify-bundle`; registered on the main typer app (portal.cli).

Heavy imports happen inside the commands, so `portal verify-bundle` on an expert's machine
loads only the offline verifier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from portal.runtime import Runtime

console = Console()
err = Console(stderr=True)


WitnessData = Annotated[
    bool,
    typer.Option(
        "--include-witness-data",
        help="Put incident text and each file's place and device in the bundle (logged).",
    ),
]


def export_command(
    case_id: Annotated[str, typer.Argument(help="The case to export.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", dir_okay=False, help="Where to write the zip.")
    ],
    include_witness_identity: Annotated[
        bool,
        typer.Option(
            "--include-witness-identity",
            help="Put witnesses' decrypted contact details in the bundle (logged).",
        ),
    ] = False,
    include_witness_data: WitnessData = False,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Staff account the export is made for (logged as the actor)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Overrides PORTAL_DATA_DIR.", show_default=False),
    ] = None,
) -> None:
    """Export a case as a self-verifying court bundle (originals, proofs, PDF, JSON-LD)."""
    from portal.app import build_runtime
    from portal.config import Settings
    from portal.errors import PortalError
    from portal.flows.export import export_case

    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    rt = build_runtime(settings)
    try:
        who = _exporter(
            rt,
            by,
            include_witness_identity=include_witness_identity,
            include_witness_data=include_witness_data,
        )
        with _progress_bar() as progress:
            result = export_case(
                rt,
                case_id=case_id,
                actor=who,
                include_witness_identity=include_witness_identity,
                include_witness_data=include_witness_data,
                dest=output,
                progress=progress,
            )
    except PortalError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {exc.message}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    finally:
        rt.engine.dispose()
    console.print(
        f"wrote {output} ({result.size} bytes, {len(result.items)} items)\n"
        f"bundle SHA-256 {result.sha256}\n"
        f"logged as custody log entry {result.log_index} (evidence.exported)",
        markup=False,
        highlight=False,
    )


def _exporter(
    rt: Runtime, by: str | None, *, include_witness_identity: bool, include_witness_data: bool
) -> str:
    """The actor the export is logged as: the --by account if it may export, else the cli."""
    from portal.auth.permissions import Permission, allowed
    from portal.auth.service import find_user
    from portal.custody.actors import CLI
    from portal.errors import Forbidden
    from portal.export.service import check_identity_allowed, check_witness_data_allowed

    if by is None:
        return CLI  # an operator at the server, not a staff account
    with rt.sessions() as db:
        user = find_user(db, name=by)
    if user.disabled or not allowed(user.role, Permission.CASES):
        raise Forbidden(f"{by} may not export cases", code="forbidden")
    check_identity_allowed(user.role, include_witness_identity)
    check_witness_data_allowed(user.role, include_witness_data)
    return str(user.actor)


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A bar over the originals' bytes as they are copied into the bundle."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("originals", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress


def verify_bundle_command(
    bundle: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Bundle zip.")],
    public_key: Annotated[
        str | None,
        typer.Option(help="The log's verifier key, or a file holding it (from a trusted source)."),
    ] = None,
    tsa_ca: Annotated[
        Path | None,
        typer.Option(
            "--tsa-ca",
            exists=True,
            dir_okay=False,
            help="PEM file of the TSA certificates you trust; without it the checkpoint's "
            "timestamp is printed as NOT VERIFIED.",
        ),
    ] = None,
) -> None:
    """Check a court bundle offline: every file's hash, every proof, the checkpoint signature
    and its timestamp."""
    from portal.custody.tsa import TimestampError, load_roots
    from portal.export.verify import verify_bundle

    key = public_key
    if key is not None and Path(key).is_file():
        key = Path(key).read_text().strip()
    try:
        roots = load_roots(tsa_ca) if tsa_ca is not None else None
    except TimestampError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    report = verify_bundle(bundle, key, roots)
    console.print(report.text(), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)
