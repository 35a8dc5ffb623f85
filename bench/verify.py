"""Proof that the bulk loader stores what the server would: the same resources written
both ways, compared row by row (ids aside), then removed again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from bench.data import Generated
from bench.load import Writer, build_rows
from gateway.search.query import PagingLimits
from gateway.services.resources import ResourceService
from gateway.store.database import Database
from gateway.store.resources import ResourceStore
from gateway.store.schema import resource_versions, resources, search_index

_SERVICE_PREFIX = "svc0"  # replaces the first four characters of a generated id


def check_loader_rows(url: str, writer: Writer, sample: Sequence[Generated]) -> None:
    """Raise AssertionError if any table differs between the two ways of writing."""
    writer.write(build_rows(sample, 0))
    database = Database(url)
    try:
        with database.write() as connection:
            for item in sample:
                service = ResourceService(
                    ResourceStore(connection),
                    PagingLimits(20, 100),
                    clock=lambda item=item: item.last_updated,  # type: ignore[misc]
                    new_id=lambda item=item: _service_id(item.id),  # type: ignore[misc]
                )
                service.create(item.resource_type, item.body)
        with database.write() as connection:
            loaded = {item.id for item in sample}
            served = {_service_id(item.id) for item in sample}
            for table, id_column in _ID_COLUMNS:
                ours = _stored(connection, table, id_column, loaded)
                theirs = _stored(connection, table, id_column, served)
                if ours != theirs:
                    raise AssertionError(f"loader rows differ from the server's in {table}")
                connection.execute(
                    delete(_TABLES[table]).where(_TABLES[table].c[id_column].in_(loaded | served))
                )
    finally:
        database.dispose()


_TABLES = {t.name: t for t in (resources, resource_versions, search_index)}
_ID_COLUMNS = (("resources", "id"), ("resource_versions", "id"), ("search_index", "resource_id"))


def _service_id(resource_id: str) -> str:
    return _SERVICE_PREFIX + resource_id[len(_SERVICE_PREFIX) :]


def _stored(
    connection: Connection, table: str, id_column: str, ids: set[str]
) -> list[tuple[Any, ...]]:
    """The rows as the database holds them (raw driver values), ids masked."""
    columns = [c.name for c in _TABLES[table].columns]
    statement = select(_TABLES[table]).where(_TABLES[table].c[id_column].in_(ids))
    compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
    rows = connection.exec_driver_sql(str(compiled)).all()
    position = columns.index(id_column)
    masked = [
        tuple(
            value.replace(str(row[position]), "<id>") if isinstance(value, str) else value
            for value in row
        )
        for row in rows
    ]
    return sorted(masked, key=repr)
