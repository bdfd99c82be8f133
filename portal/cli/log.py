"""`portal verify-receipt` and `portal custody monitor`: what a witness and an outside monitor
run, with the log's public key and nothing of the portal's. Registered by portal.cli.

Heavy imports happen inside the commands, so they load only the offline verifiers.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from cryptography import x509

console = Console()
err = Console(stderr=True)

PublicKey = Annotated[
    str | None,
    typer.Option(help="The log's verifier key, or a file holding it (from a trusted source)."),
]
TsaCa = Annotated[
    Path | None,
    typer.Option(
        "--tsa-ca",
        exists=True,
        dir_okay=False,
        help="PEM file of the TSA certificates you trust; without it a timestamp's time is "
        "printed as NOT VERIFIED.",
    ),
]


def _key(value: str | None) -> str | None:
    if value is not None and Path(value).is_file():
        return Path(value).read_text().strip()
    return value


def _roots(path: Path | None) -> list[x509.Certificate] | None:
    from portal.custody.tsa import load_roots

    return load_roots(path) if path is not None else None


def verify_receipt_command(
    receipt: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Receipt JSON.")],
    public_key: PublicKey = None,
    file: Annotated[
        list[Path] | None,
        typer.Option(
            "--file",
            help="A local copy of a listed file, found by its SHA-256, whatever its name "
            "(repeatable).",
        ),
    ] = None,
    tsa_ca: TsaCa = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="The portal's address: prove that its log today still holds the receipt's "
            "checkpoint (a consistency proof to its current checkpoint).",
        ),
    ] = None,
) -> None:
    """Check a witness receipt offline: signature, proofs, every shown field, its timestamp,
    and optionally local copies of the files. Fields nothing proves are printed as NOT
    VERIFIED."""
    from portal.custody.receipt import load_receipt, verify_receipt
    from portal.custody.remote import check_against

    key = _key(public_key)
    try:
        data = load_receipt(receipt)
        report = verify_receipt(data, key, file or [], tsa_roots=_roots(tsa_ca))
    except ValueError as exc:
        err.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(2) from None
    if against is not None:
        check_against(report, data, against, key)
    console.print(report.text(), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


def monitor_command(
    url: Annotated[str, typer.Argument(help="The portal's address, e.g. https://portal.example")],
    public_key: Annotated[
        str, typer.Option(help="The log's verifier key, or a file holding it (required).")
    ],
    state: Annotated[
        Path,
        typer.Option(file_okay=False, help="Folder where the monitor keeps what it saw."),
    ],
    max_age: Annotated[
        int | None,
        typer.Option(
            "--max-age",
            help="Fail when the newest checkpoint is older than this many seconds (by its "
            "verified timestamp, else since this monitor first saw its size).",
        ),
    ] = None,
    tsa_ca: TsaCa = None,
) -> None:
    """Watch a portal's log from outside (run it from cron): the checkpoint's signature and
    timestamp, and a proof, computed from its public tiles, that it extends the one seen
    before. Exits 1 on a fork, a rollback, a bad signature, a malformed answer or tile, or a
    stale checkpoint."""
    from portal.clock import utcnow
    from portal.custody import monitor
    from portal.custody.remote import RemoteError
    from portal.custody.tsa import TimestampError

    key = _key(public_key)
    assert key is not None
    try:
        outcome = monitor.run(
            url,
            key=key,
            state=state,
            now=utcnow(),
            max_age=timedelta(seconds=max_age) if max_age is not None else None,
            tsa_roots=_roots(tsa_ca),
        )
    except (RemoteError, TimestampError) as exc:
        err.print(f"MONITOR FAILED: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    for line in outcome.lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print("RESULT: the log is consistent with everything this monitor saw before")
