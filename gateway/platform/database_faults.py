"""Telling a database fault of the moment (retry later) from a fault in the code.

A connection refused, reset or timed out, a lock or statement timeout, a serialisation
failure or deadlock, SQLite's "database is locked": none of these says the request was
wrong or the code is broken, and a sender that is told 500 drops the handover as final.
They are answered 503 transient with Retry-After (gateway.web.errors). Anything else
from the database (a missing column, a broken constraint) stays an unexpected error.

Only the error's class and SQLSTATE are read: its message may quote data.
"""

from __future__ import annotations

from sqlalchemy import exc

# SQLSTATE classes and codes (PostgreSQL appendix A) that are faults of the moment.
_TRANSIENT_CLASSES = ("08", "53", "57P")  # connection, resources, server shutting down
_TRANSIENT_CODES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available: lock_timeout (or NOWAIT) gave up
        "57014",  # query_canceled: statement_timeout gave up
        "25P03",  # idle_in_transaction_session_timeout ended the session
    }
)
_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN")


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` is the database being unreachable, busy or too slow right now."""
    if isinstance(error, exc.TimeoutError):
        return True  # no pooled connection came free in time
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, exc.OperationalError):
        return False
    if _is_sqlite(error):
        # Busy or locked past busy_timeout, or the file could not be read or written.
        name = getattr(error.orig, "sqlite_errorname", "")
        return isinstance(name, str) and name.startswith(_SQLITE_TRANSIENT)
    sqlstate = sqlstate_of(error)
    # No SQLSTATE: the driver's own failure to connect or to talk to the server.
    return (
        sqlstate is None or sqlstate.startswith(_TRANSIENT_CLASSES) or sqlstate in _TRANSIENT_CODES
    )


def is_unreachable(error: BaseException) -> bool:
    """Whether the connection itself failed (so another statement would fail the same
    way, after the same wait), rather than the database refusing one statement."""
    if isinstance(error, exc.TimeoutError):
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, exc.OperationalError) or _is_sqlite(error):
        return False
    sqlstate = sqlstate_of(error)
    return sqlstate is None or sqlstate.startswith("08")


def sqlstate_of(error: BaseException) -> str | None:
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else None


def _is_sqlite(error: exc.DBAPIError) -> bool:
    return type(error.orig).__module__.startswith("sqlite3")
