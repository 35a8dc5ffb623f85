"""Engines and transactions for SQLite (embedded) and PostgreSQL (production, scale-out).

SQLite allows one writer at a time. A write transaction that starts as a reader and
upgrades later can fail at once with "database is locked", so write transactions begin
IMMEDIATE (taking the write lock up front), while read transactions stay deferred and, in
WAL mode, never wait for a writer. The writer engine holds one connection: callers that
run transactions concurrently (the HTTP layer) admit one writer at a time themselves
(gateway.platform.transactions), because SQLite's busy handler waits by sleeping and
retrying, unfairly. busy_timeout still covers writers in other processes.

Every wait on the database is bounded when `timeouts` are given (the server and workers
give them; operator commands such as `gateway audit verify` and migrations do not, as
they may rightly run long): connecting, waiting for a lock, one statement, a transaction
left idle, and a connection whose peer vanished (TCP keepalives and tcp_user_timeout).
A statement that hits one fails with an OperationalError, which the HTTP edge answers
503 transient (gateway.platform.database_faults); its transaction is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, NullPool, create_engine, event, text
from sqlalchemy.engine import make_url

from gateway.platform.private_paths import private_sqlite_store

SQLITE_BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True, slots=True)
class DatabaseTimeouts:
    """How long the gateway waits on the database before giving up (seconds)."""

    connect: int = 5  # PostgreSQL counts whole seconds, at least 2
    lock: float = 5.0  # PostgreSQL lock_timeout; SQLite busy_timeout
    statement: float = 15.0
    idle_in_transaction: float = 30.0
    # A connection whose peer vanished (a partition) is found dead after about
    # idle + interval * count seconds of silence, or when sent data goes unacknowledged
    # for `unacknowledged` seconds (Linux tcp_user_timeout).
    keepalive_idle: int = 10
    keepalive_interval: int = 5
    keepalive_count: int = 3
    unacknowledged: float = 20.0

    def postgresql_connect_args(self, options: str | None) -> dict[str, Any]:
        settings = {
            "statement_timeout": _ms(self.statement),
            "lock_timeout": _ms(self.lock),
            "idle_in_transaction_session_timeout": _ms(self.idle_in_transaction),
        }
        server_options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        return {
            "connect_timeout": max(2, self.connect),
            "options": f"{options} {server_options}" if options else server_options,
            "keepalives": 1,
            "keepalives_idle": self.keepalive_idle,
            "keepalives_interval": self.keepalive_interval,
            "keepalives_count": self.keepalive_count,
            "tcp_user_timeout": _ms(self.unacknowledged),
        }


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class Database:
    """Owns the engines; hands out connections inside a transaction."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 20,
        timeouts: DatabaseTimeouts | None = None,
    ) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        self.timeouts = timeouts
        if self.dialect == "sqlite":
            _prepare_store_file(self.url.database)
            busy_ms = _ms(timeouts.lock) if timeouts else SQLITE_BUSY_TIMEOUT_MS
            self._writer = _sqlite_engine(url, "BEGIN IMMEDIATE", connections=1, busy_ms=busy_ms)
            self._reader = _sqlite_engine(url, "BEGIN", connections=pool_size, busy_ms=busy_ms)
            self.write_capacity, self.read_capacity = 1, pool_size
        elif self.dialect == "postgresql":
            engine = create_engine(
                _with_psycopg_driver(url),
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=True,
                connect_args=self._postgresql_connect_args(timeouts),
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

    def probe_engine(self, seconds: float) -> Engine:
        """A pool-less engine for health probes: a fresh connection each time, so a probe
        never waits behind (or on a dead socket of) the request pool, and gives up after
        about `seconds` whatever the database does."""
        if self.dialect == "sqlite":
            return _sqlite_engine(
                self.url.render_as_string(hide_password=False),
                "BEGIN",
                connections=0,
                busy_ms=_ms(seconds),
            )
        probe = DatabaseTimeouts(
            connect=max(2, round(seconds)),
            lock=seconds,
            statement=seconds,
            idle_in_transaction=max(seconds, 1.0),
            keepalive_idle=1,
            keepalive_interval=1,
            keepalive_count=max(1, round(seconds)),
            unacknowledged=seconds,
        )
        return create_engine(
            _with_psycopg_driver(self.url.render_as_string(hide_password=False)),
            poolclass=NullPool,
            connect_args=self._postgresql_connect_args(probe),
        )

    def _postgresql_connect_args(self, timeouts: DatabaseTimeouts | None) -> dict[str, Any]:
        if timeouts is None:
            return {}
        options = self.url.query.get("options")
        return timeouts.postgresql_connect_args(options if isinstance(options, str) else None)

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


def _sqlite_engine(url: str, begin: str, *, connections: int, busy_ms: int) -> Engine:
    """`connections`: the pool's size, or 0 for none (a fresh connection each time)."""
    pooling: dict[str, Any] = (
        {"pool_size": connections, "max_overflow": 0} if connections else {"poolclass": NullPool}
    )
    engine = create_engine(url, connect_args={"check_same_thread": False}, **pooling)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)

    return engine
