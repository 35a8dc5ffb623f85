"""Bulk loading the access log: rows as gateway.access_log.log.append and the sequencer write
them, without HTTP.

`load_log` streams the events of `bench.audit.events.Events` (canonical bytes and leaf
hashes as the gateway makes them) into `audit_events` (seq and position in order: seq
`position + 1`, as the sequence would give them) and `audit_references`; meanwhile it
computes every complete subtree hash at the stored levels (every `merkle.STRIDE`th, as
`merkle.completed_stored_nodes` names them) and the root at every `checkpoint_every`
events and at the end, signs those checkpoints (rows as
`Sequencer._checkpoint_if_due` writes them), and writes both at the end. One event in
`CHECK_EVERY` is rebuilt as `AuditFacts` and must give exactly `gateway.access_log.log._row`
and `_references`; bench/audit/check.py compares whole tables with the gateway's own
append and sequencer.

The schema is the migrations' (the store was made by `gateway.platform.migrate.upgrade`).
For speed the audit tables' indexes (primary keys included) are dropped before loading
and created again from the definitions the database reported before, which must then be
reported identically. PostgreSQL: one transaction that truncates the audit tables and
COPYs (binary, FREEZE) into them, then the indexes (maintenance_work_mem 1 GB), the
`seq` sequence moved past the loaded events, VACUUM (ANALYZE). SQLite: executemany in
transactions of BATCH events, then the indexes, ANALYZE and a WAL checkpoint. Memory
stays bounded: events are streamed, and only the subtree hashes (about one per 2^STRIDE events)
and the checkpoints are kept.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any

import psycopg
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url

from bench.audit.events import Event, Events
from gateway.access_log import log as audit_log
from gateway.access_log.checkpoint import Checkpoint, Link, SignedCheckpoint, sign_checkpoint
from gateway.access_log.keys import AuditSigningKey
from gateway.access_log.merkle import STRIDE, TreeBuilder, completed_stored_nodes
from gateway.platform.schema import audit_checkpoints, audit_events, audit_nodes, audit_references

BATCH = 20_000  # events per COPY (PostgreSQL) or transaction (SQLite)
CHECK_EVERY = 997  # one event in this many is checked against gateway.access_log.log._row
_node_hasher = sha256(b"\x01").copy  # RFC 9162 interior node: SHA-256(0x01 || l || r)
AUDIT_TABLES = ("audit_events", "audit_references", "audit_nodes", "audit_checkpoints")
INDEXED_TABLES = ("audit_events", "audit_references")

Log = Callable[[str], None]

# The columns in the order the rows below are built; checked against the schema.
EVENT_COLUMNS = (
    "seq",
    "event_id",
    "position",
    "recorded",
    "content",
    "leaf_hash",
    "patient",
    "client_id",
    "ods_code",
    "subtype",
    "action",
    "outcome",
    "purpose",
    "request_id",
)
_EVENT_TYPES = (
    "int8",
    "varchar",
    "int8",
    "timestamptz",
    "bytea",
    "bytea",
    "varchar",
    "varchar",
    "varchar",
    "varchar",
    "varchar",
    "int2",
    "varchar",
    "varchar",
)
REFERENCE_COLUMNS = ("kind", "value", "event_seq")
NODE_COLUMNS = ("level", "idx", "hash")
CHECKPOINT_COLUMNS = ("tree_size", "root_hash", "signed_at", "key_id", "signed")


def check_schema() -> None:
    for table, expected in (
        (audit_events, EVENT_COLUMNS),
        (audit_references, REFERENCE_COLUMNS),
        (audit_nodes, NODE_COLUMNS),
        (audit_checkpoints, CHECKPOINT_COLUMNS),
    ):
        actual = tuple(column.name for column in table.columns)
        if actual != expected:
            raise RuntimeError(
                f"gateway/platform/schema.py changed: {table.name} has columns {actual}; "
                "update bench/audit/load.py to match"
            )


@dataclass(frozen=True, slots=True)
class LoadStats:
    events: int
    references: int
    nodes: int
    checkpoints: int
    content_bytes: int
    seconds: float  # generating and writing the rows
    index_seconds: float  # creating the indexes again
    analyze_seconds: float  # VACUUM (ANALYZE) / ANALYZE and the WAL checkpoint
    checked: int  # events checked against gateway.access_log.log._row

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def mean_event_bytes(self) -> float:
        return self.content_bytes / self.events if self.events else 0.0


@dataclass
class Tree:
    """The log's tree as it grows, as `merkle.TreeBuilder` grows it (its frontier of
    complete nodes, merged as leaves arrive), also keeping each node that completes at a
    stored level; and the signed checkpoints."""

    key: AuditSigningKey
    checkpoint_every: int
    size: int = 0
    frontier: list[bytes] = field(default_factory=list)
    # (level, index, hash) of each complete node at a stored level, as they complete.
    nodes: list[tuple[int, int, bytes]] = field(default_factory=list)
    checkpoints: list[tuple[int, bytes, datetime, str, str]] = field(default_factory=list)
    last_recorded: datetime | None = None
    last_signed: SignedCheckpoint | None = None  # the one the next checkpoint links to

    def add(self, leaf: bytes, recorded: datetime) -> None:
        frontier, n, digest, level = self.frontier, self.size, leaf, 0
        while n & 1:  # each trailing 1 bit of the old size is a complete node to merge
            hasher = _node_hasher()
            hasher.update(frontier.pop())
            hasher.update(digest)
            digest = hasher.digest()
            n >>= 1
            level += 1
            if level % STRIDE == 0:
                self.nodes.append((level, ((self.size + 1) >> level) - 1, digest))
        frontier.append(digest)
        self.size += 1
        self.last_recorded = recorded
        if self.size % self.checkpoint_every == 0:
            self.sign(recorded)

    def root(self) -> bytes:
        return TreeBuilder.from_frontier(self.size, self.frontier).root()

    def sign(self, recorded: datetime | None) -> None:
        """A checkpoint of the tree so far, dated a second after its newest event."""
        size = self.size
        if recorded is None or size == 0 or (self.checkpoints and self.checkpoints[-1][0] == size):
            return
        moment = checkpoint_time(recorded)
        root = self.root()
        # Each commits to the one before it, as the sequencer chains them.
        link = None if self.last_signed is None else Link.to(self.last_signed)
        signed = sign_checkpoint(
            Checkpoint(self.key.name, size, root, moment, previous=link),
            self.key.private_key,
            self.key.name,
        )
        self.last_signed = signed
        # As Sequencer._checkpoint_if_due writes it.
        self.checkpoints.append(
            (
                size,
                root,
                moment,
                signed.key_id.hex(),
                json.dumps(signed.to_json(), separators=(",", ":")),
            )
        )

    def check(self) -> None:
        """Every stored node the sequencer would have written, and nothing else."""
        expected = completed_stored_nodes(0, self.size)
        if sorted((level, index) for level, index, _ in self.nodes) != expected:
            raise AssertionError("the loader's stored nodes are not the sequencer's")


def checkpoint_time(recorded: datetime) -> datetime:
    """When the loader dates a checkpoint whose newest event was recorded at `recorded`."""
    return recorded + timedelta(seconds=1)


def check_event(event: Event) -> None:
    """The event's row and references are exactly what gateway.access_log.log makes of its
    facts (content, leaf hash and every column)."""
    row, references = audit_log._row(Events.facts(event))
    if row != event.row():
        raise AssertionError(f"event {event.position}: the loader's row is not the gateway's")
    if sorted(references) != event.references:
        raise AssertionError(
            f"event {event.position}: the loader's references are not the gateway's"
        )


def _rows(
    events: Iterable[Event], tree: Tree, stats: dict[str, int]
) -> Iterator[tuple[tuple[Any, ...], list[tuple[str, str, int]]]]:
    """(audit_events row, audit_references rows) of each event, in position order,
    growing the tree as they go."""
    for event in events:
        if event.position % CHECK_EVERY == 0:
            check_event(event)
            stats["checked"] += 1
        values, template = event.values, event.template
        seq = event.position + 1
        recorded = values["recorded"]
        tree.add(event.leaf_hash, recorded)
        stats["bytes"] += len(event.content)
        yield (
            (
                seq,
                values["event_id"],
                event.position,
                recorded,
                event.content,
                event.leaf_hash,
                values["patient"] if template.patient else None,
                values["client"],
                values["ods"],
                template.subtype.code,
                template.action,
                template.outcome,
                "direct-care",
                values["request"],
            ),
            [(kind, value, seq) for kind, value in event.references],
        )


def load_log(
    url: str, events: Events, key: AuditSigningKey, *, checkpoint_every: int, log: Log
) -> LoadStats:
    """Load `events` into the (migrated, audit-empty) store at `url`."""
    check_schema()
    tree = Tree(key, checkpoint_every)
    loader = _load_postgresql if url.startswith("postgresql") else _load_sqlite
    return loader(url, events, tree, log)


def _progress(log: Log, started: float, total: int) -> Callable[[int], None]:
    last = [started]

    def report(done: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 15:
            last[0] = now
            rate = done / (now - started)
            left = (total - done) / rate if rate else 0
            log(f"  loaded {done:,} of {total:,} events ({rate:,.0f}/s, ~{left:,.0f} s left)")

    return report


# -- PostgreSQL ------------------------------------------------------------------------

_INDEXES = """
SELECT t.relname, i.relname, pg_get_indexdef(i.oid), c.conname, pg_get_constraintdef(c.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.contype IN ('p', 'u')
WHERE t.relname = ANY(%s)
ORDER BY t.relname, i.relname
"""


def postgres_indexes(connection: psycopg.Connection[Any]) -> list[tuple[str, ...]]:
    return [tuple(row) for row in connection.execute(_INDEXES, [list(INDEXED_TABLES)])]


def _load_postgresql(url: str, events: Events, tree: Tree, log: Log) -> LoadStats:
    stats = {"checked": 0, "bytes": 0, "references": 0}
    with psycopg.connect(_libpq(url)) as connection:
        indexes = postgres_indexes(connection)
        started = time.perf_counter()
        progress = _progress(log, started, events.count)
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(AUDIT_TABLES)}")
            for table, index, _, constraint, _ in indexes:
                if constraint:
                    cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
                else:
                    cursor.execute(f"DROP INDEX {index}")
            rows = _rows(events, tree, stats)
            done = 0
            while done < events.count:
                references: list[tuple[str, str, int]] = []
                with cursor.copy(
                    _copy(audit_events.name, EVENT_COLUMNS), writer=QueuedLibpqWriter(cursor)
                ) as copy:
                    copy.set_types(list(_EVENT_TYPES))
                    for row, refs in _take(rows, BATCH):
                        copy.write_row(row)
                        references += refs
                        done += 1
                with cursor.copy(_copy(audit_references.name, REFERENCE_COLUMNS)) as copy:
                    copy.set_types(["varchar", "varchar", "int8"])
                    for reference in references:
                        copy.write_row(reference)
                stats["references"] += len(references)
                progress(done)
            tree.sign(tree.last_recorded)  # the whole log is attested
            tree.check()
            with cursor.copy(_copy(audit_nodes.name, NODE_COLUMNS)) as copy:
                copy.set_types(["int2", "int8", "bytea"])
                for node in tree.nodes:
                    copy.write_row(node)
            with cursor.copy(_copy(audit_checkpoints.name, CHECKPOINT_COLUMNS)) as copy:
                copy.set_types(["int8", "bytea", "timestamptz", "varchar", "text"])
                for checkpoint in tree.checkpoints:
                    copy.write_row(checkpoint)
        seconds = time.perf_counter() - started
        log(f"  {done:,} events written in {seconds:,.0f} s; creating the indexes again")
        index_started = time.perf_counter()
        connection.execute("SET maintenance_work_mem = '1GB'")
        for table, _, definition, constraint, constraint_definition in indexes:
            connection.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_definition}"
                if constraint
                else definition
            )
            connection.commit()
        if postgres_indexes(connection) != indexes:
            raise AssertionError("the audit tables' indexes differ from the migrations' after")
        if done:
            connection.execute(
                "SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), %s)", [done]
            )
        connection.commit()
        index_seconds = time.perf_counter() - index_started
        analyze_started = time.perf_counter()
        connection.autocommit = True
        connection.execute(f"VACUUM (ANALYZE) {', '.join(AUDIT_TABLES)}")
        analyze_seconds = time.perf_counter() - analyze_started
    return _stats(done, stats, tree, seconds, index_seconds, analyze_seconds)


def _stats(
    done: int,
    counted: dict[str, int],
    tree: Tree,
    seconds: float,
    index_seconds: float,
    analyze_seconds: float,
) -> LoadStats:
    return LoadStats(
        events=done,
        references=counted["references"],
        nodes=len(tree.nodes),
        checkpoints=len(tree.checkpoints),
        content_bytes=counted["bytes"],
        seconds=seconds,
        index_seconds=index_seconds,
        analyze_seconds=analyze_seconds,
        checked=counted["checked"],
    )


def _copy(table: str, columns: tuple[str, ...]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary, FREEZE)"


def _take(rows: Iterator[Any], count: int) -> Iterator[Any]:
    for _ in range(count):
        row = next(rows, None)
        if row is None:
            return
        yield row


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# -- SQLite ----------------------------------------------------------------------------


def sqlite_indexes(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    placeholders = ", ".join("?" for _ in INDEXED_TABLES)
    return list(
        connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({placeholders}) ORDER BY name",
            INDEXED_TABLES,
        )
    )


def _load_sqlite(url: str, events: Events, tree: Tree, log: Log) -> LoadStats:
    stats = {"checked": 0, "bytes": 0, "references": 0}
    dialect = sqlite_dialect.dialect()
    # The gateway's bind processing for `recorded` (UTCDateTime: a UTC datetime becomes
    # the naive text the server stores), without the per-row cost of a Core insert.
    stored_time = audit_events.c.recorded.type.bind_processor(dialect)
    assert stored_time is not None
    path = make_url(url).database or ""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA synchronous = NORMAL")  # as the gateway connects
        connection.execute("PRAGMA cache_size = -1000000")
        indexes = sqlite_indexes(connection)
        started = time.perf_counter()
        progress = _progress(log, started, events.count)
        connection.execute("BEGIN IMMEDIATE")
        for table in AUDIT_TABLES:
            connection.execute(f"DELETE FROM {table}")
        for name, _ in indexes:
            connection.execute(f"DROP INDEX {name}")
        connection.execute("COMMIT")
        rows = _rows(events, tree, stats)
        done = 0
        event_sql = _insert(audit_events.name, EVENT_COLUMNS)
        reference_sql = _insert(audit_references.name, REFERENCE_COLUMNS)
        while done < events.count:
            batch = list(_take(rows, BATCH))
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                event_sql, [(*row[:3], stored_time(row[3]), *row[4:]) for row, _ in batch]
            )
            references = [reference for _, refs in batch for reference in refs]
            connection.executemany(reference_sql, references)
            connection.execute("COMMIT")
            stats["references"] += len(references)
            done += len(batch)
            progress(done)
        tree.sign(tree.last_recorded)  # the whole log is attested
        tree.check()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(_insert(audit_nodes.name, NODE_COLUMNS), tree.nodes)
        connection.executemany(
            _insert(audit_checkpoints.name, CHECKPOINT_COLUMNS),
            [(size, root, stored_time(at), *rest) for size, root, at, *rest in tree.checkpoints],
        )
        connection.execute("COMMIT")
        seconds = time.perf_counter() - started
        log(f"  {done:,} events written in {seconds:,.0f} s; creating the indexes again")
        index_started = time.perf_counter()
        for _, definition in indexes:
            connection.execute(definition)
        if sqlite_indexes(connection) != indexes:
            raise AssertionError("the audit tables' indexes differ from the migrations' after")
        index_seconds = time.perf_counter() - index_started
        analyze_started = time.perf_counter()
        connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        analyze_seconds = time.perf_counter() - analyze_started
    return _stats(done, stats, tree, seconds, index_seconds, analyze_seconds)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
