"""`portal` command line (typer + rich)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import TaskID
from rich.table import Table

from portal.config import Settings
from portal.errors import PortalError

if TYPE_CHECKING:
    from portal.flows.reconcile import Report

app = typer.Typer(no_args_is_help=True, help="Citizen evidence portal.")
users = typer.Typer(no_args_is_help=True, help="Staff accounts.")
dbcli = typer.Typer(no_args_is_help=True, help="Database maintenance.")
app.add_typer(users, name="users")
custody_cli = typer.Typer(no_args_is_help=True, help="The custody log.")
app.add_typer(dbcli, name="db")
app.add_typer(custody_cli, name="custody")
retention_cli = typer.Typer(no_args_is_help=True, help="Retention and destruction.")
app.add_typer(retention_cli, name="retention")


def _other_modules() -> None:
    """Commands that live in modules of their own (imported here, run on demand)."""
    from portal.cli.custody import recover_command
    from portal.cli.export import export_command, verify_bundle_command
    from portal.cli.keys import keys_cli
    from portal.cli.log import monitor_command, verify_receipt_command
    from portal.cli.ops import backup_command, restore_command
    from portal.cli.worker import worker_command

    app.command("export")(export_command)
    app.command("verify-bundle")(verify_bundle_command)
    app.command("verify-receipt")(verify_receipt_command)
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
    app.command("worker")(worker_command)
    app.add_typer(keys_cli, name="keys")
    custody_cli.command("recover")(recover_command)
    custody_cli.command("monitor")(monitor_command)


_other_modules()
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Overrides PORTAL_DATA_DIR.", show_default=False)
]


def _settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)  # type: ignore[arg-type]


def _fail(exc: PortalError) -> None:
    err.print(f"[red]error[/red] ({exc.code}): {exc.message}")
    raise typer.Exit(1)


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Overrides PORTAL_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides PORTAL_PORT.")] = None,
) -> None:
    """Run the portal (creates the database and storage folder on first start)."""
    import uvicorn

    from portal.app import build_runtime, create_app
    from portal.auth.service import list_users
    from portal.db import SchemaTooNew

    settings = _settings(data_dir, host=host, port=port)
    try:
        runtime = build_runtime(settings)
    except (PermissionError, SchemaTooNew) as exc:  # unsafe files, a newer schema: say so
        console.print(f"portal: {exc}")
        raise typer.Exit(2) from None
    with runtime.sessions() as db:
        has_staff = bool(list_users(db))
    console.print(f"portal: data in {settings.data_dir.resolve()}")
    console.print(f"portal: database {runtime.engine.url.render_as_string(hide_password=True)}")
    console.print(f"portal: storage {settings.resolved_storage_url}")
    console.print(f"portal: listening on http://{settings.host}:{settings.port}/")
    if not has_staff:
        console.print(
            "portal: no staff accounts yet; create the first with\n"
            "    portal users add NAME --role admin\n"
            "and enrol its second factor at /web/staff/second-factor"
        )
    json_logs = settings.log_format == "json"
    if json_logs:
        from portal.ops.logs import use_json_logs

        use_json_logs()
    uvicorn.run(
        create_app(runtime=runtime),
        host=settings.host,
        port=settings.port,
        # In JSON mode the app writes its own access lines, without the client's address.
        access_log=settings.access_log and not json_logs,
        log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
        # The app applies PORTAL_TRUSTED_PROXIES itself (portal.app); a second, differently
        # configured copy here would decide first.
        proxy_headers=False,
        server_header=False,
        log_level="info",
    )


@dbcli.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply database migrations."""
    from portal import datadir, db
    from portal.models import import_models

    settings = _settings(data_dir)
    datadir.prepare(settings.data_dir)
    import_models()
    engine = db.make_engine(settings.resolved_database_url)
    try:
        db.migrate(engine)
    except db.SchemaTooNew as exc:
        err.print(f"[red]error[/red] (schema_too_new): {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print("database is up to date")


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\n")


@users.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="investigator, supervisor, auditor or admin.")],
    data_dir: DataDir = None,
) -> None:
    """Create a staff account; the password is read without echo, or from stdin. A
    supervisor or admin account (except a portal's first admin) waits for an admin's
    confirmation in the API."""
    from portal.app import build_runtime
    from portal.db import transaction
    from portal.flows.changes import create_account

    rt = build_runtime(_settings(data_dir))
    password = _read_password()
    try:
        with transaction(rt.sessions) as db:
            done = create_account(
                db, by=None, name=name, role=role, password=password, now=rt.clock()
            )
            request_id = done.request.id if done.request else None
    except PortalError as exc:
        _fail(exc)
    if request_id is None:
        console.print(f"created {role} {name}")
    else:
        console.print(
            f"created {name}, pending: an admin must confirm the {role} role "
            f"(POST /api/v1/changes/{request_id}/confirm) before the account can sign in"
        )


@users.command("list")
def users_list(data_dir: DataDir = None) -> None:
    """List staff accounts."""
    from portal.app import build_runtime
    from portal.auth.service import list_users

    rt = build_runtime(_settings(data_dir))
    table = Table("name", "role", "disabled", "created")
    with rt.sessions() as db:
        for u in list_users(db):
            table.add_row(u.name, u.role, "yes" if u.disabled else "", str(u.created_at))
    console.print(table)


@users.command("disable")
def users_disable(name: str, data_dir: DataDir = None) -> None:
    """Disable a staff account (accounts are never deleted: the log names them)."""
    from portal.app import build_runtime
    from portal.auth.service import disable_user, find_user
    from portal.db import transaction

    rt = build_runtime(_settings(data_dir))
    try:
        with transaction(rt.sessions) as db:
            disable_user(db, user=find_user(db, name=name), now=rt.clock())
    except PortalError as exc:
        _fail(exc)
    console.print(f"disabled {name}")


@custody_cli.command("checkpoint")
def custody_checkpoint(data_dir: DataDir = None) -> None:
    """Sign a checkpoint of the log now and print it."""
    from portal.app import build_runtime

    rt = build_runtime(_settings(data_dir))
    console.print(rt.sign_checkpoint().note, end="", markup=False, highlight=False)


@custody_cli.command("verify")
def custody_verify(
    data_dir: DataDir = None,
    content: Annotated[
        bool, typer.Option("--content/--no-content", help="Re-hash every stored original.")
    ] = True,
) -> None:
    """Audit the whole log: leaves, tree, checkpoints and signatures, and the originals."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from portal.app import build_runtime
    from portal.custody.service import record_audit, tree_size
    from portal.db import transaction
    from portal.flows.content_audit import audit_log_and_content

    rt = build_runtime(_settings(data_dir))
    rt.check_log()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        with rt.sessions() as db:
            checked = tree_size(db)
            report = audit_log_and_content(
                db,
                rt.storage,
                verifier_key=rt.log_verifier,
                origin=rt.settings.log_origin,
                check_content=content,
                progress=progress,
            )
    refused = rt.log_mirror.refused
    report.check(refused is None, refused or "the log extends the last checkpoint signed")
    console.print(report.text(), markup=False, highlight=False)
    try:
        with transaction(rt.sessions) as db:
            record_audit(
                db,
                ok=report.ok,
                checked_size=checked,
                content=content,
                failures=sum(1 for passed, _ in report.checks if not passed),
                at=rt.clock(),
            )
    except Exception as exc:  # a damaged log may refuse even this append
        err.print(f"[red]could not record the audit in the log[/red]: {exc}")
        raise typer.Exit(1) from None
    raise typer.Exit(0 if report.ok else 1)


@retention_cli.command("run")
def retention_run(
    data_dir: DataDir = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Judge due dates as of this time (UTC if no offset); default now."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only report what would be destroyed.")] = False,
) -> None:
    """Destroy due, approved items (and finish any destruction a crash interrupted)."""
    from portal.app import build_runtime
    from portal.clock import as_utc

    rt = build_runtime(_settings(data_dir))
    when = as_utc(as_of) if as_of else None
    report = rt.run_retention(as_of=when, dry_run=dry_run)
    table = Table("item", "outcome")
    for label, ids in (
        ("destroyed", report.destroyed),
        ("would be destroyed", report.would_destroy),
        ("awaiting approval", report.awaiting_approval),
        ("locked in storage", report.locked),
        ("kept: the custody log does not support destroying it", report.mismatched),
    ):
        for evidence_id in ids:
            table.add_row(evidence_id, label)
    console.print(table)
    console.print(
        f"{len(report.destroyed)} destroyed, {len(report.would_destroy)} would be, "
        f"{len(report.awaiting_approval)} awaiting approval, {len(report.locked)} locked, "
        f"{len(report.mismatched)} kept because the database disagrees with the custody log"
    )


storage_cli = typer.Typer(no_args_is_help=True, help="Evidence storage maintenance.")
app.add_typer(storage_cli, name="storage")


def _age(seconds: float) -> str:
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 60}m {s % 60}s" if s >= 60 else f"{s}s"


@storage_cli.command("reconcile")
def storage_reconcile(
    data_dir: DataDir = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Remove orphans older than PORTAL_UPLOAD_EXPIRY (each removal is a custody "
            "event); never bypasses Object Lock or a legal hold.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print one JSON object {"orphans": [...], "missing": [...], "repaired": [...]} '
            "instead of tables.",
        ),
    ] = False,
) -> None:
    """Find objects and partials no database row claims (orphans, left by a crash) and rows
    whose bytes are missing from storage.

    Orphans (JSON: kind original|derivative|partial|object, key, upload_id, size,
    last_modified, age_seconds, old_enough, removable, reason, keep_reason, outcome
    removed|locked|failed|null, error, log_index). Missing (JSON: kind evidence|derivative|
    upload, id, key, reason) are only reported, never repaired. Repaired (JSON: kind, key,
    upload_id, size, sha256, log_index of its storage.orphan_removed event).

    Exit status: 0 when nothing is left to look at (no missing bytes, every orphan removed),
    1 when something is reported and not repaired, 2 when storage or the database could not
    be read.
    """
    import json

    report = _reconcile(data_dir, repair=repair, quiet=as_json)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_reconcile(report)
    raise typer.Exit(0 if report.clean else 1)


def _reconcile(data_dir: Path | None, *, repair: bool, quiet: bool) -> Report:
    """Run reconcile with a spinner per phase; exit 2 when storage or the database fails."""
    from rich.progress import Progress, SpinnerColumn, TextColumn
    from sqlalchemy.exc import SQLAlchemyError

    from portal.app import build_runtime
    from portal.custody.actors import CLI
    from portal.flows.reconcile import reconcile

    engine = None
    try:
        rt = build_runtime(_settings(data_dir))
        engine = rt.engine
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed}"),
            console=err,
            disable=quiet,
            transient=True,
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(phase: str, done: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=None)
                bar.update(tasks[phase], completed=done)

            report = reconcile(
                sessions=rt.sessions,
                storage=rt.storage,
                expiry=rt.settings.upload_expiry,
                repair=repair,
                now=rt.clock(),
                actor=CLI,
                progress=progress,
            )
    except PortalError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {exc.message}")
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        err.print(f"[red]error[/red] (database): {exc}")
        raise typer.Exit(2) from None
    finally:
        if engine is not None:
            engine.dispose()
    return report


def _print_reconcile(report: Report) -> None:
    if report.orphans:
        table = Table("kind", "key", "size", "age", "why", "repair", title="orphans")
        for o in report.orphans:
            if o.outcome is not None:
                action = o.outcome + (f": {o.error}" if o.error else "")
            elif o.keep is not None:
                action = f"kept: {o.keep}"
            elif not o.old_enough:
                action = "too young to remove"
            else:
                action = "removable with --repair"
            table.add_row(o.kind, o.key, str(o.size), _age(o.age.total_seconds()), o.reason, action)
        console.print(table)
    if report.missing:
        table = Table("kind", "id", "expected at", "why", title="missing from storage")
        for m in report.missing:
            table.add_row(m.kind, m.id, m.key, m.reason)
        console.print(table)
    console.print(
        f"{report.objects_checked} objects and {report.partials_checked} partials checked: "
        f"{len(report.orphans)} orphans ({len(report.repaired)} removed), "
        f"{len(report.missing)} missing"
    )
