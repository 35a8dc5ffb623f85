"""The query plans behind a search: the SQL `ResourceStore.search` really sends, captured
as it runs, then explained by the database (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY
PLAN on SQLite). They show whether a search uses the indexes or reads the whole store.
Each search runs as the server runs it for the organisation that asks (visible_to: only
what that organisation is party to)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event

from bench.measure import Search
from core.search.query import PagingLimits, parse_search
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database


def explain(database_url: str, search: Search) -> list[str]:
    """One text block per statement the search ran: the SQL, then its plan."""
    database = Database(database_url)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    try:
        with database.read() as connection:
            event.listen(connection, "before_cursor_execute", capture)
            query = parse_search(search.resource_type, search.params, PagingLimits(20, 100))
            try:
                ResourceStore(connection).search(query, visible_to=search.caller)
            except Exception as error:  # the failure is the finding
                return [f"-- the search failed: {type(error).__name__}: {error}"] + [
                    f"{statement}\n-- parameters: {parameters}"
                    for statement, parameters in captured
                ]
            event.remove(connection, "before_cursor_execute", capture)
            return [
                f"{statement}\n-- parameters: {parameters}\n"
                + "\n".join(_plan(connection, statement, parameters))
                for statement, parameters in captured
            ]
    finally:
        database.dispose()


def _plan(connection: Connection, statement: str, parameters: Any) -> list[str]:
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
