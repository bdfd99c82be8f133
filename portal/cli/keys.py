"""`portal keys ...`: rotating the contact key (and retiring the old one) and the log key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from portal.config import Settings
from portal.errors import PortalError

if TYPE_CHECKING:
    from portal.runtime import Runtime

keys_cli = typer.Typer(no_args_is_help=True, help="Key rotation.")
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Overrides PORTAL_DATA_DIR.", show_default=False),
]


@contextmanager
def _runtime(data_dir: Path | None) -> Iterator[Runtime]:
    from portal.app import build_runtime

    rt = build_runtime(Settings(data_dir=data_dir) if data_dir else Settings())
    try:
        yield rt
    finally:
        rt.engine.dispose()


def _fail(exc: PortalError) -> None:
    err.print(f"[red]error[/red] ({exc.code}): {exc.message}", highlight=False)
    raise typer.Exit(1)


@keys_cli.command("rotate-contact")
def rotate_contact(data_dir: DataDir = None) -> None:
    """Put a new contact key first in the key file and re-encrypt every witness's contact
    details under it, in committed batches; run it again to finish a rotation that was
    stopped. Back up the key file afterwards. The old key stays until `retire-contact`."""
    from portal.flows.key_rotation import rotate_contact_key

    try:
        with _runtime(data_dir) as rt:
            done = rotate_contact_key(rt)
    except PortalError as exc:
        _fail(exc)
        return
    console.print(
        f"contact key {done.key_id}: {done.reencrypted} records re-encrypted, "
        f"{done.already} already under it",
        highlight=False,
    )


@keys_cli.command("retire-contact")
def retire_contact(data_dir: DataDir = None) -> None:
    """Remove the old contact keys once every record opens with the new one alone."""
    from portal.flows.key_rotation import retire_old_contact_keys

    try:
        with _runtime(data_dir) as rt:
            removed = retire_old_contact_keys(rt)
    except PortalError as exc:
        _fail(exc)
        return
    console.print(f"removed {removed} old contact key(s)", highlight=False)


@keys_cli.command("rotate-log")
def rotate_log(data_dir: DataDir = None) -> None:
    """Replace the log signing key: a `key.log_rotated` event and a checkpoint signed by both
    keys, then the new key in the key file (the old verifier key kept in log.key.previous).
    Run it again to finish a rotation that was stopped. Restart every instance afterwards,
    and give verifiers and monitors the new public key with the transition."""
    from portal.flows.log_key_rotation import rotate_log_key

    try:
        with _runtime(data_dir) as rt:
            done = rotate_log_key(rt)
    except PortalError as exc:
        _fail(exc)
        return
    console.print(
        f"log key rotated at checkpoint {done.transition_size}\n"
        f"old public key: {done.old_key}\nnew public key: {done.new_key}",
        highlight=False,
        markup=False,
    )
