"""The database of a TrustLedger service: one engine, migrated by Alembic, the same code on SQLite and PostgreSQL.

SQLite is opened in WAL mode with ``synchronous=FULL`` (a committed transaction survives a power cut) and a
busy timeout; a write transaction starts with ``BEGIN IMMEDIATE`` so that two writers queue instead of one
failing at commit. PostgreSQL runs at READ COMMITTED; a writer that must be alone (the nonce owner, the
sequencer) locks its row with ``SELECT ... FOR UPDATE`` (:meth:`Database.locked`).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Select, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from ..errors import LedgerError

__all__ = ["Database", "DatabaseUnavailable", "normalize_url", "now_ms"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseUnavailable(LedgerError, ConnectionError):
    """The database cannot be reached or opened. The URL's password is never part of the message."""


def now_ms() -> int:
    """Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


def normalize_url(url: str | URL) -> URL:
    """A SQLAlchemy URL with the driver TrustLedger uses: pysqlite, or psycopg 3 for PostgreSQL."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


_MIGRATION_LOCK = 0x7472757374  # "trust": the advisory lock key migrations take on PostgreSQL


class Database:
    """An engine plus the few transaction shapes TrustLedger needs."""

    def __init__(self, url: str | URL, *, pool_size: int = 5, schema: str | None = None) -> None:
        self.url = normalize_url(url)
        self.dialect = self.url.get_backend_name()
        self.schema = schema
        kwargs: dict[str, Any] = {"future": True}
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif self.dialect == "postgresql":
            kwargs["pool_size"] = pool_size
            kwargs["pool_pre_ping"] = True
            if schema is not None:
                kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
        else:
            raise LedgerError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL")
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            self._sqlite_hooks()

    def _sqlite_hooks(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's own is unreliable)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA secure_delete=ON")  # freed pages zeroed: erased review text leaves no copy there
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = "IMMEDIATE" if conn.get_execution_options().get("trustledger_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    # -- transactions -------------------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on success and rolled back on any exception."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(trustledger_write=True)
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except OperationalError as exc:
            raise self._unavailable(exc) from exc

    def purge(self) -> None:
        """Drop what the database still holds of overwritten or deleted rows, where it can do so online: on
        SQLite a truncating WAL checkpoint (with ``secure_delete``, the pages freed are zeroed); on PostgreSQL
        nothing (old row versions go with (auto)vacuum, and from backups only as those expire)."""
        if self.dialect == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def locked(self, query: Select[Any]) -> Select[Any]:
        """``query`` with a row lock where the database has one (SQLite's write transaction is the lock)."""
        return query.with_for_update() if self.dialect == "postgresql" else query

    def _unavailable(self, exc: OperationalError) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"database {self.url.render_as_string(hide_password=True)} failed: "
                                   f"{type(exc.orig).__name__}: {str(exc.orig).splitlines()[0] if exc.orig else ''}")

    # -- schema -------------------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest migration (Alembic ``upgrade head``); a no-op when it is there.

        On PostgreSQL under a transaction-scoped advisory lock: replicas starting together migrate one after
        the other, and all but the first find nothing to do."""
        from alembic import command

        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            command.upgrade(self._alembic_config(conn), "head")

    def revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def _alembic_config(self, conn: Connection) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        return cfg

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def scratch_schema(url: str | URL, *, prefix: str = "scratch") -> Iterator[Database]:
    """A :class:`Database` on a fresh, empty PostgreSQL schema, dropped with everything in it on exit.

    For tests and benchmarks that need an isolated PostgreSQL database without creating one (not migrated:
    call :meth:`Database.migrate`). ``prefix`` names the schema (lower-case letters, digits, underscores).
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", prefix):
        raise ValueError(f"schema prefix must be a short lower-case identifier, found {prefix!r}")
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = Database(url)
    try:
        with admin.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db = Database(url, schema=schema)
        try:
            yield db
        finally:
            db.dispose()
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
