"""The IG search over the access log: by patient, agent, entity, time, outcome,
interaction, action and purpose, newest first, paged by keyset (recorded, seq), so a page
costs the same at ten million events as at ten.

Every read of the log says whose view it is (`seen_by`): an organisation's IG lead sees
only the events their organisation took part in, as the caller or as the origin of, or a
party to, the data the event names (as the event's own bytes record them: the
gateway.access_log.log.ORGANISATION references are computed from them). That is a condition
of the query itself, so pages, their links and the report hold exactly those events.

Every row found is checked against its signed bytes before it is returned, and returned
as the bytes give it (gateway.access_log.derivation): a row edited behind the gateway's back
fails the whole answer with AuditIntegrityFailed, never matches on its edited value.
`seen_by=None` is the one system-wide IG lead's view (clients.yaml `access_log`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, or_, select

from core.access_log.index import AuditIndex, Reference
from gateway.access_log.derivation import vouched
from gateway.access_log.log import AGENT, ENTITY, ORGANISATION
from gateway.platform.errors import AuditIntegrityFailed
from gateway.platform.schema import audit_events, audit_references

_STREAM_ROWS = 1000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AuditQuery:
    patient: str | None = None
    agent: str | None = None
    entity: str | None = None
    # Inclusive bounds on `recorded`.
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    outcome: int | None = None
    subtype: str | None = None
    action: str | None = None
    purpose: str | None = None
    count: int = 20
    # Only events older than this (recorded, seq): the next page.
    before: tuple[datetime, int] | None = None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """A matching event, every value as its signed bytes give it (never a column's)."""

    seq: int
    event_id: str
    recorded: datetime
    content: bytes
    patient: str | None
    client_id: str | None
    ods_code: str | None
    subtype: str
    action: str
    outcome: int
    purpose: str | None
    request_id: str | None
    references: frozenset[Reference]

    def referred(self, kind: str) -> list[str]:
        """The values of its references of one kind, sorted."""
        return sorted(value for found, value in self.references if found == kind)


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRow]
    # Pass as `before` for the next (older) page; None on the last page.
    next_before: tuple[datetime, int] | None


def search_events(connection: Connection, query: AuditQuery, *, seen_by: str | None) -> AuditPage:
    statement = (
        _select(query, seen_by)
        .order_by(audit_events.c.recorded.desc(), audit_events.c.seq.desc())
        .limit(query.count + 1)
    )
    rows = _vouched(connection, list(connection.execute(statement)))
    page, more = rows[: query.count], len(rows) > query.count
    last = page[-1] if page else None
    return AuditPage(page, (last.recorded, last.seq) if more and last else None)


def events_oldest_first(
    connection: Connection, query: AuditQuery, *, seen_by: str | None
) -> Iterator[AuditRow]:
    """Every matching event, oldest first, streamed (the patient access report)."""
    statement = (
        _select(query, seen_by)
        .order_by(audit_events.c.recorded, audit_events.c.seq)
        .execution_options(yield_per=_STREAM_ROWS)
    )
    for batch in connection.execute(statement).partitions():
        yield from _vouched(connection, list(batch))


def event_by_id(connection: Connection, event_id: str, *, seen_by: str | None) -> AuditRow | None:
    """The event, if it exists and is in this view (None either way otherwise)."""
    conditions = [audit_events.c.event_id == event_id, *_view(seen_by)]
    found = connection.execute(_columns().where(*conditions)).first()
    return None if found is None else _vouched(connection, [found])[0]


_COLUMNS = (
    audit_events.c.seq,
    audit_events.c.position,
    audit_events.c.event_id,
    audit_events.c.recorded,
    audit_events.c.content,
    audit_events.c.patient,
    audit_events.c.client_id,
    audit_events.c.ods_code,
    audit_events.c.subtype,
    audit_events.c.action,
    audit_events.c.outcome,
    audit_events.c.purpose,
    audit_events.c.request_id,
)


def _columns() -> Select[Any]:
    return select(*_COLUMNS)


def _select(query: AuditQuery, seen_by: str | None) -> Select[Any]:
    return _columns().where(*_conditions(query), *_view(seen_by))


def _view(seen_by: str | None) -> list[ColumnElement[bool]]:
    """The events an organisation took part in: as the caller, or named by the data."""
    if seen_by is None:
        return []
    return [
        or_(
            audit_events.c.ods_code == seen_by,
            audit_events.c.seq.in_(_referring(ORGANISATION, seen_by)),
        )
    ]


def _conditions(query: AuditQuery) -> list[ColumnElement[bool]]:
    events = audit_events.c
    found: list[ColumnElement[bool]] = []
    equal = {
        events.patient: query.patient,
        events.outcome: query.outcome,
        events.subtype: query.subtype,
        events.action: query.action,
        events.purpose: query.purpose,
    }
    found.extend(column == value for column, value in equal.items() if value is not None)
    if query.recorded_from is not None:
        found.append(events.recorded >= query.recorded_from)
    if query.recorded_to is not None:
        found.append(events.recorded <= query.recorded_to)
    if query.agent is not None:
        found.append(
            or_(
                events.client_id == query.agent,
                events.ods_code == query.agent,
                events.seq.in_(_referring(AGENT, query.agent)),
            )
        )
    if query.entity is not None:
        found.append(events.seq.in_(_referring(ENTITY, query.entity)))
    if query.before is not None:
        recorded, seq = query.before
        found.append(
            or_(events.recorded < recorded, and_(events.recorded == recorded, events.seq < seq))
        )
    return found


def _referring(kind: str, value: str) -> Select[tuple[int]]:
    return select(audit_references.c.event_seq).where(
        and_(audit_references.c.kind == kind, audit_references.c.value == value)
    )


def _vouched(connection: Connection, found: list[Row[Any]]) -> list[AuditRow]:
    """The rows as their bytes give them, each checked against its bytes first
    (gateway.access_log.derivation): AuditIntegrityFailed rather than a tampered value."""
    rows = [row._mapping for row in found]
    return [
        _row(int(row["seq"]), bytes(row["content"]), index)
        for row, index in zip(rows, vouched(connection, rows), strict=True)
    ]


def _row(seq: int, content: bytes, index: AuditIndex) -> AuditRow:
    return AuditRow(
        seq=seq,
        event_id=_present(index.event_id),
        recorded=_present(index.recorded),
        content=content,
        patient=index.patient,
        client_id=index.client_id,
        ods_code=index.ods_code,
        subtype=_present(index.subtype),
        action=_present(index.action),
        outcome=_present(index.outcome),
        purpose=index.purpose,
        request_id=index.request_id,
        references=index.references,
    )


def _present(value: T | None) -> T:
    """A value vouched() has checked equals its NOT NULL column: never None."""
    if value is None:
        raise AuditIntegrityFailed()
    return value
