"""The query plans behind the benchmarks' queries: the SQL the gateway's code really sends,
captured as it runs, then explained by the database (EXPLAIN ANALYZE on PostgreSQL,
EXPLAIN QUERY PLAN on SQLite). They show whether a query uses the indexes or reads the
whole store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, event

from bench.measure import Search
from core.search.query import PagingLimits, parse_search
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database

Statement = tuple[str, Any]  # as sent: the SQL and its parameters


def capture(connection: Connection, sent: list[Statement]) -> Callable[..., None]:
    """Append every statement sent on `connection` to `sent`; returns the listener."""

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", listener)
    return listener


@contextmanager
def statements_of(connection: Connection) -> Iterator[list[Statement]]:
    """The statements sent on `connection` within the block."""
    sent: list[Statement] = []
    listener = capture(connection, sent)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", listener)


def explained(
    connection: Connection, sent: list[Statement], describe: Callable[[Any], str] = str
) -> list[str]:
    """One text block per statement: the SQL, its parameters (as `describe` puts them),
    then its plan."""
    return [
        f"{statement}\n-- parameters: {describe(parameters)}\n"
        + "\n".join(plan(connection, statement, parameters))
        for statement, parameters in sent
    ]


def plan(connection: Connection, statement: str, parameters: Any) -> list[str]:
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
        )
        return [str(row[0]) for row in rows]
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    # Rows are (id, parent, notused, detail); a parent of 0 is the top level.
    depths: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _, detail in rows:
        depths[node] = depths.get(parent, -1) + 1
        lines.append("  " * depths[node] + str(detail))
    return lines


def explain(database_url: str, search: Search) -> list[str]:
    """A search as the server runs it for the organisation that asks (visible_to: only
    what that organisation is party to): one block per statement it ran."""
    database = Database(database_url)
    try:
        with database.read() as connection:
            query = parse_search(search.resource_type, search.params, PagingLimits(20, 100))
            with statements_of(connection) as sent:
                try:
                    ResourceStore(connection).search(query, visible_to=search.caller)
                except Exception as error:  # the failure is the finding
                    return [f"-- the search failed: {type(error).__name__}: {error}"] + [
                        f"{statement}\n-- parameters: {parameters}"
                        for statement, parameters in sent
                    ]
            return explained(connection, sent)
    finally:
        database.dispose()
