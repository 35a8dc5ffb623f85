"""Proof that the loader's log is the log the gateway would have built.

`check_loader_tables`: the same events are written twice, into two fresh stores: by the
bulk loader, and by the gateway's own code (`gateway.access_log.log.append` in write
transactions, then `Sequencer.run` until everything is placed, with a policy and a clock
that make it sign where and when the loader does). Every row of the four audit tables
must be equal. Then the gateway carries on from the loaded store (more events appended
and sequenced by its own code, a checkpoint signed on demand) and
`gateway.access_log.checking.verify_database` must pass over the lot.

The whole large store is then verified too (`verify_database`, the `audit verify`
figure), and every proof timed there is checked (bench/audit/proofs.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import select

from bench.audit.events import Event, Events
from bench.audit.load import Log, checkpoint_time, load_log
from gateway.access_log import log as audit_log
from gateway.access_log.checking import verify_database
from gateway.access_log.keys import AuditSigningKey, KeyHistory
from gateway.access_log.sequencer import Sequencer, SequencingPolicy
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.schema import audit_checkpoints, audit_events, audit_nodes, audit_references

APPEND_CHUNK = 50  # events per gateway write transaction (a request appends 1 to a few)


@dataclass(frozen=True, slots=True)
class TableCheck:
    database: str
    events: int
    checkpoint_every: int
    rows_compared: dict[str, int]
    same_seq: bool  # the gateway's sequence gave the loader's seq values too
    continued_events: int  # appended and sequenced by the gateway after the load
    verified_events: int  # verify_database over the continued store


def _events(seed: int, count: int, end: datetime) -> Events:
    return Events(seed, count, end, timedelta(days=30))


def check_loader_tables(
    database: str,
    make_store: Any,
    key: AuditSigningKey,
    *,
    events: int,
    checkpoint_every: int,
    seed: int,
    log: Log,
) -> TableCheck:
    """`make_store()` is a context manager yielding a fresh store's URL."""
    with make_store() as loaded_url, make_store() as gateway_url:
        for url in (loaded_url, gateway_url):
            db = Database(url)
            migrate.upgrade(db)
            db.dispose()
        end = datetime.now(UTC) - timedelta(days=2)
        load_log(
            loaded_url, _events(seed, events, end), key, checkpoint_every=checkpoint_every, log=log
        )
        _append_as_gateway(gateway_url, _events(seed, events, end), key, checkpoint_every)
        loaded, gateway = _tables(loaded_url), _tables(gateway_url)
        same_seq = loaded["audit_events"] == gateway["audit_events"]
        compared = {}
        for name in loaded:
            mine, theirs = _by_position(name, loaded), _by_position(name, gateway)
            if mine != theirs:
                raise AssertionError(f"{database}: {name} differs between loader and gateway")
            compared[name] = len(mine)
        if compared["audit_events"] != events:
            raise AssertionError(f"{database}: {compared['audit_events']} events, not {events}")
        continued, verified = _continue(loaded_url, key, seed)
    return TableCheck(database, events, checkpoint_every, compared, same_seq, continued, verified)


def _append_as_gateway(url: str, events: Events, key: AuditSigningKey, every: int) -> None:
    """What the gateway writes for these events: append in transactions, then sequence
    in batches of `every`, signing after each (dated as the loader dates them)."""
    recorded: list[datetime] = []
    database = Database(url)
    try:
        stream = iter(events)
        while chunk := list(islice(stream, APPEND_CHUNK)):
            recorded += [event.values["recorded"] for event in chunk]
            with database.write() as connection:
                audit_log.append(connection, [Events.facts(event) for event in chunk])
        sizes = [*range(every, len(recorded), every), len(recorded)]
        moments = iter([checkpoint_time(recorded[size - 1]) for size in sizes])
        sequencer = Sequencer(
            key,
            SequencingPolicy(
                batch=every, checkpoint_every_events=every, checkpoint_every=timedelta(0)
            ),
            clock=lambda: next(moments),
        )
        while True:
            with database.write() as connection:
                if not sequencer.run(connection).sequenced:
                    break
    finally:
        database.dispose()


def _tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    database = Database(url)
    try:
        with database.read() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in connection.execute(
                        select(*table.columns).order_by(*table.primary_key.columns)
                    )
                ]
                for table in (audit_events, audit_references, audit_nodes, audit_checkpoints)
            }
    finally:
        database.dispose()


def _by_position(name: str, tables: dict[str, list[tuple[Any, ...]]]) -> Any:
    """A table's rows with each event's seq replaced by its position (seq values are
    the database sequence's, positions the tree's)."""
    if name not in ("audit_events", "audit_references"):
        return tables[name]
    position = {row[0]: row[2] for row in tables["audit_events"]}
    if name == "audit_events":
        return sorted((row[2], *row[1:2], *row[3:]) for row in tables["audit_events"])
    return sorted((kind, value, position[seq]) for kind, value, seq in tables[name])


def _continue(url: str, key: AuditSigningKey, seed: int) -> tuple[int, int]:
    """The gateway carries on from the loaded log: events appended and sequenced by its
    own code, a checkpoint on demand; then the whole log must verify."""
    more = Events(seed + 1, 700, datetime.now(UTC) - timedelta(hours=1), timedelta(minutes=30))
    database = Database(url)
    try:
        stream: Iterator[Event] = iter(more)
        while chunk := list(islice(stream, APPEND_CHUNK)):
            with database.write() as connection:
                audit_log.append(connection, [Events.facts(event) for event in chunk])
        sequencer = Sequencer(key)
        while True:
            with database.write() as connection:
                if not sequencer.run(connection, checkpoint_now=True).sequenced:
                    break
        with database.read() as connection:
            report = verify_database(connection, KeyHistory.of(key, []))
        if not report.ok or report.unattested_events:
            raise AssertionError(f"the continued log does not verify: {report}")
        return more.count, report.events_checked
    finally:
        database.dispose()
