"""Every searched value checked against the signed bytes: the columns and reference rows
the IG search and the patient access report read, re-derived from each event's canonical
bytes (core.access_log.index, the function the log writes them with) and compared.

`gateway audit verify` runs `first_disagreement` over the whole store after the tree
checks; the search runs `vouched` over every row it is about to return, so a row an
insider edited (a column UPDATEd, a reference row deleted, inserted or altered) is never
shown, nor matched on the value it was edited to. Problems name the column or the kind of
reference, never a value: values are patient data.

`waiting` reports the events committed but not yet given a position by the sequencer.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from core.access_log.index import COLUMNS, AuditIndex, Reference, index_of
from gateway.platform.errors import AuditIntegrityFailed
from gateway.platform.logging import get_logger
from gateway.platform.schema import audit_events, audit_references

log = get_logger(__name__)

StoredRow = Mapping[Any, Any]  # an audit_events row by column name (a RowMapping)

_BATCH = 1000
_EVENT_COLUMNS = (
    audit_events.c.seq,
    audit_events.c.position,
    audit_events.c.content,
    *(audit_events.c[name] for name in COLUMNS),
)


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Where an event's stored row and its bytes part: its sequence number, its position
    (None while it waits to be sequenced), its id as stored, and what differs."""

    seq: int
    position: int | None
    event_id: str | None
    problem: str

    def describe(self) -> str:
        """The problem, for a report that gives the position separately."""
        which = f"seq {self.seq}" + (f", event {self.event_id}" if self.event_id else "")
        if self.position is None and self.event_id is not None:
            which = f"an event not yet sequenced ({which})"
        return f"{which}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Backlog:
    """Events committed but not yet sequenced: how many, and the oldest one's time."""

    count: int
    oldest_recorded: datetime | None

    def age_seconds(self, now: datetime) -> float:
        return 0.0 if self.oldest_recorded is None else (now - self.oldest_recorded).total_seconds()


def derived(content: bytes) -> AuditIndex | None:
    """What the bytes vouch for; None when they are not an event's JSON."""
    try:
        return index_of(json.loads(content))
    except ValueError:
        return None


def disagreement(
    stored: StoredRow, index: AuditIndex | None, references: Collection[Reference]
) -> str | None:
    """The first way a stored row (its columns, by name) and its reference rows differ
    from what its bytes vouch for (`derived`); None when they agree."""
    if index is None:
        return "its bytes are not an event's JSON"
    for name, value in index.columns().items():
        if stored[name] != value:
            return f"the {name} column does not match the event's bytes"
    held = set(references)
    missing = sorted(index.references - held)
    if missing:
        return f"a reference row ({missing[0][0]}) the event's bytes name is missing"
    unvouched = sorted(held - index.references - index.optional)
    if unvouched:
        return f"a reference row ({unvouched[0][0]}) names what the event's bytes do not"
    return None


def first_disagreement(connection: Connection) -> Disagreement | None:
    """The first event, by position, then the unsequenced ones by seq, whose row or
    reference rows differ from its bytes; else the first reference row whose event is
    not in the store (inserted, or left behind by a deleted event)."""
    for rows in (_sequenced(connection), _unsequenced(connection)):
        for batch in rows:
            found = _first_in(connection, batch)
            if found is not None:
                return found
    orphan = connection.execute(
        select(func.min(audit_references.c.event_seq)).where(
            audit_references.c.event_seq.not_in(select(audit_events.c.seq))
        )
    ).scalar()
    if orphan is None:
        return None
    return Disagreement(int(orphan), None, None, "reference rows name an event not in the log")


def vouched(connection: Connection, rows: Sequence[StoredRow]) -> list[AuditIndex]:
    """What each row's bytes vouch for, after checking its columns and reference rows
    against them; AuditIntegrityFailed (logged, without values) at the first that
    differs: nothing a tampered row holds is shown."""
    held = references(connection, [int(row["seq"]) for row in rows])
    found = []
    for row in rows:
        index = derived(bytes(row["content"]))
        problem = disagreement(row, index, held.get(int(row["seq"]), ()))
        if problem is not None or index is None:
            log.error(
                "audit.integrity_failed",
                seq=int(row["seq"]),
                position=row.get("position"),
                problem=problem,
            )
            raise AuditIntegrityFailed()
        found.append(index)
    return found


def references(connection: Connection, seqs: Sequence[int]) -> dict[int, set[Reference]]:
    """The reference rows of these events, by event."""
    found: dict[int, set[Reference]] = {}
    if not seqs:
        return found
    refs = audit_references.c
    statement = select(refs.event_seq, refs.kind, refs.value).where(refs.event_seq.in_(seqs))
    for seq, kind, value in connection.execute(statement):
        found.setdefault(int(seq), set()).add((kind, value))
    return found


def waiting(connection: Connection) -> Backlog:
    unsequenced = audit_events.c.position.is_(None)
    count, oldest = connection.execute(
        select(func.count(), func.min(audit_events.c.recorded)).where(unsequenced)
    ).one()
    return Backlog(int(count or 0), oldest)


def _first_in(connection: Connection, batch: Sequence[StoredRow]) -> Disagreement | None:
    held = references(connection, [int(row["seq"]) for row in batch])
    for row in batch:
        index = derived(bytes(row["content"]))
        problem = disagreement(row, index, held.get(int(row["seq"]), ()))
        if problem is not None:
            return Disagreement(int(row["seq"]), row["position"], row["event_id"], problem)
    return None


def _sequenced(connection: Connection) -> Iterator[Sequence[StoredRow]]:
    position = audit_events.c.position
    return _batches(connection, position, position.is_not(None))


def _unsequenced(connection: Connection) -> Iterator[Sequence[StoredRow]]:
    return _batches(connection, audit_events.c.seq, audit_events.c.position.is_(None))


def _batches(
    connection: Connection, key: Any, condition: ColumnElement[bool]
) -> Iterator[Sequence[StoredRow]]:
    """The rows meeting `condition`, by `key`, a batch at a time (keyset paging)."""
    after: int | None = None
    while True:
        statement = select(*_EVENT_COLUMNS).where(condition)
        if after is not None:
            statement = statement.where(key > after)
        batch = [row._mapping for row in connection.execute(statement.order_by(key).limit(_BATCH))]
        if not batch:
            return
        yield batch
        after = int(batch[-1][key.name])
