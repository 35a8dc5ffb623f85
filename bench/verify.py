"""Proofs that the benchmark measures what it means to.

`check_loader_rows`: the bulk loader stores what the server would. The same resources
are written by the loader and through `ResourceService.create` (once as the gateway
itself, with no caller, and once on behalf of the sending organisation's client, as over
HTTP), compared row by row in every table (ids aside), then removed again.

`check_search_totals`: each search, made over HTTP by an organisation's client, found
everything the same search finds with no access control at all (as before tokens), so
the caller's organisation is party to all of it and the latencies are comparable."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from bench.auth import SCOPES, client_id
from bench.data import ORGANIZATION, Generated, Organisation, Workload, organisation_name
from bench.load import Parties, Writer, build_rows, load_organisations
from bench.measure import Search
from core.fhir.organisations import organization_resource
from core.search.query import PagingLimits, parse_search
from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database
from gateway.platform.schema import resource_parties, resource_versions, resources, search_index

# Each replaces the first four characters of a generated id: one per way of writing.
_PREFIXES = {"no caller": "svn0", "the sender's client": "svc0"}
# Two organisations the sample adds itself (the workload's are stored already).
_SAMPLE_ORGANISATIONS = ("VRFY1", "VRFY2")


def start_store(
    url: str, writer: Writer, workload: Workload, seed: int, extra: Sequence[Generated] = ()
) -> int:
    """The workload's organisations loaded, then the loader proven on a sample (50
    ServiceRequests and Communications from the seed after `seed`, and `extra`); returns
    how many resources were compared."""
    load_organisations(writer, workload)
    sample = [*workload.companion(seed + 1).next_batch(50), *extra]
    check_loader_rows(url, writer, sample, workload.organisations)
    return len(sample) + len(_SAMPLE_ORGANISATIONS)


def check_loader_rows(
    url: str,
    writer: Writer,
    sample: Sequence[Generated],
    organisations: Sequence[Organisation],
) -> None:
    """Raise AssertionError if any table differs between the loader and the server.

    `organisations` are those the sample names, already in the store (as loaded).
    """
    sample = [*_organisation_resources(sample[0].last_updated), *sample]
    writer.write(build_rows(sample, 0, Parties(organisations)))
    loaded = {item.id for item in sample}
    database = Database(url)
    try:
        for caller_kind, prefix in _PREFIXES.items():
            with database.write() as connection:
                for item in sample:
                    # No client writes the directory (DirectoryReadOnly): the gateway does.
                    as_client = caller_kind != "no caller" and item.resource_type != ORGANIZATION
                    service = ResourceService(
                        ResourceStore(connection),
                        PagingLimits(20, 100),
                        caller=_caller(item.sender, item.resource_type) if as_client else None,
                        clock=lambda item=item: item.last_updated,  # type: ignore[misc]
                        new_id=lambda item=item, p=prefix: _service_id(p, item.id),  # type: ignore[misc]
                    )
                    service.create(item.resource_type, item.body)
        with database.write() as connection:
            served = {
                kind: {_service_id(p, item.id) for item in sample} for kind, p in _PREFIXES.items()
            }
            for table, id_column in _ID_COLUMNS:
                ours = _stored(connection, table, id_column, loaded)
                if table == "resource_parties" and len(ours) < len(sample):
                    raise AssertionError("the loader wrote too few resource_parties rows")
                for caller_kind, ids in served.items():
                    if _stored(connection, table, id_column, ids) != ours:
                        raise AssertionError(
                            f"loader rows differ from the server's ({caller_kind}) in {table}"
                        )
            everything = loaded.union(*served.values())
            for table, id_column in _ID_COLUMNS:
                connection.execute(
                    delete(_TABLES[table]).where(_TABLES[table].c[id_column].in_(everything))
                )
    finally:
        database.dispose()


def check_search_totals(
    url: str, searches: Sequence[Search], totals: Sequence[int | None], *, label: str
) -> None:
    """Raise AssertionError unless every answered search's total is what the store holds
    for it with no access control, and at least one found something. Failed searches
    (None) are not judged here: the results table counts them."""
    database = Database(url)
    expected: dict[str, int] = {}
    try:
        with database.read() as connection:
            store = ResourceStore(connection)
            for search in searches:
                if search.url() not in expected:
                    query = parse_search(search.resource_type, search.params, PagingLimits(1, 1))
                    found = store.search(query).total
                    assert found is not None
                    expected[search.url()] = found
    finally:
        database.dispose()
    wrong = [
        (search, total)
        for search, total in zip(searches, totals, strict=True)
        if total is not None and total != expected[search.url()]
    ]
    if wrong:
        search, total = wrong[0]
        raise AssertionError(
            f"{label}: {len(wrong)} of {len(searches)} searches found less than the store "
            f"holds, e.g. {search.caller} found {total} of {expected[search.url()]} for "
            f"{search.url()}"
        )
    answered = [total for total in totals if total is not None]
    if answered and not any(answered):
        raise AssertionError(f"{label}: no search found anything")


_TABLES = {t.name: t for t in (resources, resource_versions, search_index, resource_parties)}
_ID_COLUMNS = (
    ("resources", "id"),
    ("resource_versions", "id"),
    ("search_index", "resource_id"),
    ("resource_parties", "resource_id"),
)


def _caller(ods: str, resource_type: str) -> Caller:
    """The sending organisation's client, as its access token describes it; a Consent's
    is its care system's, whose registration may record consent (provider-epr)."""
    return Caller(
        client_id=client_id(ods),
        ods_code=ods,
        role="provider-epr" if resource_type == "Consent" else None,
        scopes=ScopeSet.parse([*SCOPES, "system/Organization.c", "system/Consent.c"]),
        purpose_of_use="direct-care",
    )


def _organisation_resources(moment: datetime) -> list[Generated]:
    """Organizations are written with a party row of their own (basis `self`)."""
    return [
        Generated(
            ORGANIZATION,
            str(uuid.uuid4()),
            moment,
            organization_resource(ods, organisation_name(ods)),
            ods,
        )
        for ods in _SAMPLE_ORGANISATIONS
    ]


def _service_id(prefix: str, resource_id: str) -> str:
    return prefix + resource_id[len(prefix) :]


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
