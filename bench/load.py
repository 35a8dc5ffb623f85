"""Bulk loading straight into the store, with rows built by the server's own code.

Going through HTTP would take hours for a million resources, so the loader builds each
row the way `ResourceService.create` and `ResourceStore.insert` do (`versioned` for the
stored JSON and meta, `index_rows` for the search index, `ResourceService._parties` for
the organisations party to it, `sharing_facts` for the sharing facts searches filter
on: the patient's NHS number, the originating organisation, the data category) and
writes them in large transactions: COPY on PostgreSQL, executemany on SQLite. Full
validation costs ~0.6 ms a resource, so it runs on a sample: every sampled body must
come back from `validated` unchanged, which shows the skipped ones would have been
stored as they are.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import psycopg
from sqlalchemy import Table, text

from bench.data import Generated, Organisation, Workload
from core.fhir.patients import patient_fact
from core.search.indexing import index_rows
from gateway.fhir.records import encode_parties
from gateway.fhir.storage import VersionedStorage, validated, versioned
from gateway.fhir.store import Party, ResourceStore, SharingFacts
from gateway.platform.database import Database
from gateway.platform.schema import resource_parties, resource_versions, resources, search_index
from gateway.sharing.policy import sharing_facts

BATCH = 5000
VALIDATE_EVERY = 101

Row = tuple[Any, ...]


@dataclass
class Rows:
    """One batch of rows for the four tables, in their column order."""

    resources: list[Row] = field(default_factory=list)
    versions: list[Row] = field(default_factory=list)
    index: list[Row] = field(default_factory=list)
    parties: list[Row] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LoadStats:
    resources: int
    index_rows: int
    seconds: float  # generating and writing
    analyze_seconds: float

    @property
    def per_second(self) -> float:
        return self.resources / self.seconds if self.seconds else 0.0

    def cells(self, size: int) -> list[str]:
        """The reports' loading row, LOAD_COLUMNS, for a store grown to `size`."""
        return [
            f"{size:,}",
            f"{self.resources:,}",
            f"{self.index_rows:,}",
            f"{self.seconds:,.0f}",
            f"{self.per_second:,.0f}",
            f"{self.analyze_seconds:,.1f}",
        ]


LOAD_COLUMNS = (
    "Grown to | Resources added | Index rows added | Seconds | Resources/s | VACUUM/ANALYZE s"
)


class Writer(Protocol):
    def write(self, rows: Rows) -> None: ...

    def analyze(self) -> None: ...

    def close(self) -> None: ...


# The column order build_rows produces; checked against the schema before loading, so a
# change to the tables stops the loader instead of misplacing values.
COLUMNS = {
    "resources": (
        "resource_type",
        "id",
        "version_id",
        "last_updated",
        "content",
        "patient",
        "origin",
        "data_category",
    ),
    "resource_versions": (
        "resource_type",
        "id",
        "version_id",
        "last_updated",
        "method",
        "content",
        "patient",
        "origin",
        "data_category",
        "parties",
    ),
    "search_index": (
        "resource_type",
        "resource_id",
        "param",
        "system",
        "value",
        "low",
        "high",
        "last_updated",
    ),
    "resource_parties": ("resource_type", "resource_id", "ods_code", "basis"),
}


def check_schema() -> None:
    for table, _ in _tables(Rows()):
        actual = tuple(column.name for column in table.columns)
        if actual != COLUMNS[table.name]:
            raise RuntimeError(
                f"gateway/platform/schema.py changed: {table.name} has columns {actual}; "
                "update bench/load.py (build_rows and COLUMNS) to match"
            )


class Parties:
    """The organisations party to a resource, by the server's own `ResourceService._parties`,
    and its sharing facts, by `gateway.sharing.policy.sharing_facts`.

    `_parties` resolves literal `Organization/<id>` references with one query
    (`ResourceStore.organisation_codes`, on the Organization resources' indexed ODS
    identifier); here the same question is answered from the workload's organisations,
    which the loader stores first. `sharing_facts` is asked as a create by the sending
    organisation's client (the writer), as over HTTP; with no caller (the gateway
    itself) the origin is the first sender by ODS code, the same organisation, every
    generated resource naming one sender. bench/verify.py shows the rows come out the
    same both ways.
    """

    def __init__(self, organisations: Sequence[Organisation]) -> None:
        self._codes = {organisation.id: organisation.ods for organisation in organisations}
        # Only its parties is used: the store it is given is this object.
        self._storage = VersionedStorage(cast(ResourceStore, self))

    def organisation_codes(self, organization_ids: Sequence[str]) -> dict[str, set[str]]:
        """What ResourceStore.organisation_codes answers on the loaded store."""
        return {i: {self._codes[i]} for i in set(organization_ids) if i in self._codes}

    def of(self, resource_type: str, resource: Mapping[str, Any]) -> list[Party]:
        return self._storage.parties(resource_type, resource)

    def facts(
        self, resource_type: str, resource: Mapping[str, Any], parties: list[Party], writer: str
    ) -> SharingFacts:
        """What a create by `writer` (an ODS code) stores in `resources.patient`, `origin`
        and `data_category` (every generated resource names its person by NHS number)."""
        patient = patient_fact(resource_type, resource, local_systems=frozenset())
        return sharing_facts(resource_type, resource, patient, parties, writer, None)


def build_rows(batch: Sequence[Generated], first_number: int, parties: Parties) -> Rows:
    """The rows the server would store for these creates (version 1, method create)."""
    rows = Rows()
    for number, item in enumerate(batch, start=first_number):
        if number % VALIDATE_EVERY == 0 and validated(item.resource_type, item.body) != item.body:
            raise AssertionError(f"validation changes a generated {item.resource_type}")
        record = versioned(item.resource_type, item.id, 1, item.last_updated, item.body)
        named = parties.of(item.resource_type, item.body)
        facts = parties.facts(item.resource_type, item.body, named, item.sender)
        rows.resources.append(
            (
                record.resource_type,
                record.id,
                1,
                record.last_updated,
                record.content,
                facts.patient,
                facts.origin,
                facts.category,
            )
        )
        # Each version keeps its own sharing facts and parties (migration 0008).
        rows.versions.append(
            (
                record.resource_type,
                record.id,
                1,
                record.last_updated,
                "create",
                record.content,
                facts.patient,
                facts.origin,
                facts.category,
                encode_parties(dict.fromkeys(named)),
            )
        )
        rows.index.extend(
            (
                record.resource_type,
                record.id,
                r.param,
                r.system,
                r.value,
                r.low,
                r.high,
                record.last_updated,
            )
            for r in index_rows(item.resource_type, item.body)
        )
        # ResourceStore._add_parties: each distinct party once.
        rows.parties.extend(
            (record.resource_type, record.id, party.ods_code, party.basis)
            for party in dict.fromkeys(named)
        )
    return rows


def load_organisations(writer: Writer, workload: Workload) -> int:
    """Store the workload's organisations (before anything names them); index rows added."""
    rows = build_rows(workload.organisation_resources(), 0, Parties(workload.organisations))
    writer.write(rows)
    return len(rows.index)


def load(
    writer: Writer,
    workload: Workload,
    target: int,
    *,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> LoadStats:
    """Generate and store resources until the workload has produced `target` of them
    (its organisations must be stored already: `load_organisations`)."""
    started = time.perf_counter()
    loaded = index_total = 0
    last_report = started
    parties = Parties(workload.organisations)
    while workload.generated < target:
        first = workload.generated
        batch = workload.next_batch(min(BATCH, target - first))
        rows = build_rows(batch, first, parties)
        writer.write(rows)
        loaded += len(batch)
        index_total += len(rows.index)
        now = time.perf_counter()
        if now - last_report >= 15:
            last_report = now
            rate = loaded / (now - started)
            log(f"  loaded {workload.generated:,} of {target:,} ({rate:,.0f} resources/s)")
    seconds = time.perf_counter() - started
    analyze_started = time.perf_counter()
    writer.analyze()
    return LoadStats(loaded, index_total, seconds, time.perf_counter() - analyze_started)


# -- PostgreSQL: COPY ----------------------------------------------------------------


def _copy_sql(table: Table) -> str:
    columns = ", ".join(column.name for column in table.columns)
    return f"COPY {table.name} ({columns}) FROM STDIN"


class PostgresWriter:
    def __init__(self, url: str) -> None:
        self._connection = psycopg.connect(_libpq_url(url))

    def write(self, rows: Rows) -> None:
        with self._connection.transaction(), self._connection.cursor() as cursor:
            for table, values in _tables(rows):
                with cursor.copy(_copy_sql(table)) as copy:
                    for value in values:
                        copy.write_row(value)

    def analyze(self) -> None:
        # VACUUM as well: it sets the visibility map (index-only scans) and leaves
        # autovacuum nothing to do in the middle of a measurement.
        self._connection.autocommit = True
        try:
            self._connection.execute("VACUUM (ANALYZE)")
        finally:
            self._connection.autocommit = False

    def close(self) -> None:
        self._connection.close()


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# -- SQLite: executemany in the gateway's own write transactions -----------------------


class SqliteWriter:
    # A larger page cache for the loading connection only; the file is unchanged.
    CACHE_KIB = 1_000_000

    def __init__(self, url: str) -> None:
        self._database = Database(url)
        dialect = self._database.engine.dialect
        # Each column's SQLAlchemy bind processing (UTC datetimes become the naive text
        # the server stores), applied without the per-row cost of a Core insert.
        self._processors = {
            table.name: [
                column.type.dialect_impl(dialect).bind_processor(dialect)
                for column in table.columns
            ]
            for table, _ in _tables(Rows())
        }

    def write(self, rows: Rows) -> None:
        with self._database.write() as connection:
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(f"PRAGMA cache_size=-{self.CACHE_KIB}")
            for table, values in _tables(rows):
                processors = self._processors[table.name]
                columns = ", ".join(column.name for column in table.columns)
                marks = ", ".join("?" for _ in table.columns)
                cursor.executemany(
                    f"INSERT INTO {table.name} ({columns}) VALUES ({marks})",
                    [
                        tuple(
                            v if p is None else p(v) for p, v in zip(processors, row, strict=True)
                        )
                        for row in values
                    ],
                )
            cursor.close()

    def analyze(self) -> None:
        with self._database.write() as connection:
            connection.execute(text("ANALYZE"))
        # Fold the write-ahead log into the database file, outside any transaction.
        raw = self._database.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()

    def close(self) -> None:
        self._database.dispose()


def _tables(rows: Rows) -> Iterator[tuple[Table, list[Row]]]:
    yield resources, rows.resources
    yield resource_versions, rows.versions
    yield search_index, rows.index
    yield resource_parties, rows.parties


@contextmanager
def writer_for(url: str) -> Iterator[Writer]:
    """The loader's connection. Keep it open only while writing: on SQLite, a gateway
    `Database` made in this process opens and closes the store file to set its mode
    (gateway.platform.private_paths.private_sqlite_store), and closing any descriptor of a file
    drops every POSIX lock the process holds on it, this connection's included. Held
    open across a server's run, the next connection found the store "malformed"."""
    check_schema()
    writer: Writer = SqliteWriter(url) if url.startswith("sqlite") else PostgresWriter(url)
    try:
        yield writer
    finally:
        writer.close()
