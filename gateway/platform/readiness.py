"""Whether the store can take traffic: reachable, at the schema this code needs, and able
to take the access log's rows (a request that cannot be logged fails closed, so a store
that cannot log serves nothing). Nothing is written: on PostgreSQL the privilege to
insert is asked for, and the lock an insert takes is taken (NOWAIT) and rolled back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.platform import migrate
from gateway.platform.schema import audit_events, audit_references

_LOG_TABLES = (audit_events.name, audit_references.name)


@dataclass(frozen=True, slots=True)
class Readiness:
    database: str  # ok | unreachable
    migrations: str | None = None  # current | not current
    access_log: str | None = None  # writable | not writable

    @property
    def ready(self) -> bool:
        return (self.database, self.migrations, self.access_log) == (
            "ok",
            "current",
            "writable",
        )


def check(engine: Engine) -> Readiness:
    """One probe on a fresh connection of `engine` (Database.probe_engine)."""
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            connection.execute(text("SELECT 1"))
            revision = migrate.revision_of(connection)
            if revision != migrate.HEAD:
                return Readiness("ok", "not current")
            writable = _access_log_writable(connection)
            transaction.rollback()
    except SQLAlchemyError:
        return Readiness("unreachable")
    return Readiness("ok", "current", "writable" if writable else "not writable")


def _access_log_writable(connection: Connection) -> bool:
    if connection.dialect.name == "sqlite":
        path = connection.engine.url.database
        return path in (None, "", ":memory:") or os.access(str(path), os.W_OK)
    for table in _LOG_TABLES:
        if not connection.execute(
            text("SELECT has_table_privilege(:table, 'INSERT')"), {"table": table}
        ).scalar():
            return False
    try:
        # The lock an INSERT takes: refused at once if someone holds a conflicting one
        # (LOCK TABLE ... IN SHARE MODE, an ALTER TABLE in progress).
        with connection.begin_nested():
            connection.execute(
                text(f"LOCK TABLE {', '.join(_LOG_TABLES)} IN ROW EXCLUSIVE MODE NOWAIT")
            )
    except SQLAlchemyError:
        return False
    return True
