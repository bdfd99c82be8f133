"""Engine, sessions and migrations.

SQLite is the embedded default; PostgreSQL is chosen by URL. On SQLite every transaction
starts with BEGIN IMMEDIATE: it takes the write lock up front, so two requests can never both
read the log head and then race to append (a deferred transaction would fail with
SQLITE_BUSY_SNAPSHOT instead of waiting).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import DateTime, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import CursorResult, Dialect, Engine, Result
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from portal.clock import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


READ_ONLY = "portal_read_only"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp column that takes and gives aware UTC datetimes on every database.

    SQLite keeps no offset: it would store the wall clock of 12:00+02:00 as 12:00, and hands
    back naive datetimes; PostgreSQL hands back the server's zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit BEGIN is deferred).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Erased witness data (names at withdrawal) is overwritten, not left in free space;
            # some SQLite builds default to off.
            cur.execute("PRAGMA secure_delete=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # Read-only sessions (below) begin deferred: in WAL mode a transaction that never
            # writes neither waits for the writer nor can hit SQLITE_BUSY_SNAPSHOT.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for lookups that never write (witness tokens, tus HEAD).

    On SQLite every other transaction takes the write lock up front, so a lookup would queue
    behind every PATCH's commit; these do not. A write through one is a bug and fails loudly.
    """
    factory = sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    @event.listens_for(factory, "before_flush")
    def _no_flush(session: Session, *_: Any) -> None:
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("a read-only session was asked to write")

    @event.listens_for(factory, "do_orm_execute")
    def _no_dml(state: Any) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            raise RuntimeError("a read-only session was asked to write")

    return factory


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (typed access to CursorResult.rowcount)."""
    return cast(CursorResult[Any], result).rowcount


class SchemaTooNew(RuntimeError):
    """The database was upgraded by a newer portal: this version refuses to touch it."""


def alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest Alembic revision (or `revision`, for tests).

    Never down: a database a newer portal upgraded is refused with a message, not run by
    code that does not know its tables (and Alembic would only say it cannot find a revision).
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    scripts = ScriptDirectory.from_config(cfg)
    with engine.connect() as conn, _foreign_keys_off(conn), conn.begin():
        current = MigrationContext.configure(conn).get_current_revision()
        known = {rev.revision for rev in scripts.walk_revisions()}
        if current is not None and current not in known:
            raise SchemaTooNew(
                f"the database is at schema revision {current}, which this version of the "
                f"portal does not know (it knows up to {scripts.get_current_head()}): it was "
                "upgraded by a newer version. Downgrades are not supported; run the newer "
                "version, or restore the backup taken before the upgrade"
            )
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        if (
            conn.dialect.name == "sqlite"
            and conn.exec_driver_sql("PRAGMA foreign_key_check").first()
        ):
            raise RuntimeError("a migration left rows that break a foreign key; rolled back")


@contextmanager
def _foreign_keys_off(conn: Any) -> Iterator[None]:
    """On SQLite, migrations rebuild a table to alter it (create, copy, drop, rename); with
    foreign keys enforced, dropping a table other rows refer to fails. The pragma only takes
    effect outside a transaction; the keys are checked once the migrations ran."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")
