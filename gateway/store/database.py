"""Engines and transactions for SQLite (embedded) and PostgreSQL (production, scale-out).

SQLite allows one writer at a time. A write transaction that starts as a reader and
upgrades later can fail at once with "database is locked", so write transactions begin
IMMEDIATE (taking the write lock up front), while read transactions stay deferred and, in
WAL mode, never wait for a writer. The writer engine holds one connection: callers that
run transactions concurrently (the HTTP layer) admit one writer at a time themselves
(gateway.api.transactions), because SQLite's busy handler waits by sleeping and
retrying, unfairly. busy_timeout still covers writers in other processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from gateway.private_paths import private_sqlite_store

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    """Owns the engines; hands out connections inside a transaction."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 20) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            _prepare_store_file(self.url.database)
            self._writer = _sqlite_engine(url, begin="BEGIN IMMEDIATE", connections=1)
            self._reader = _sqlite_engine(url, begin="BEGIN", connections=pool_size)
            self.write_capacity, self.read_capacity = 1, pool_size
        elif self.dialect == "postgresql":
            engine = create_engine(
                _with_psycopg_driver(url),
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=True,
            )
            self._writer = self._reader = engine
            # One pool serves both: together, at most this many open transactions.
            self.write_capacity = self.read_capacity = pool_size + max_overflow
        else:
            raise ValueError("GATEWAY_DATABASE_URL must be a sqlite:// or postgresql:// URL")

    @property
    def shares_one_pool(self) -> bool:
        return self._writer is self._reader

    @property
    def engine(self) -> Engine:
        return self._writer

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error."""
        with self._writer.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._reader.begin() as connection:
            yield connection

    def ping(self) -> None:
        with self.read() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self._writer.dispose()
        self._reader.dispose()


def _with_psycopg_driver(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _prepare_store_file(database: str | None) -> None:
    if database and database != ":memory:" and not database.startswith("file:"):
        private_sqlite_store(Path(database))


def _sqlite_engine(url: str, *, begin: str, connections: int) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=connections,
        max_overflow=0,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)

    return engine
