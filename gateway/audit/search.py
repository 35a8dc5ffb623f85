"""The IG search over the access log: by patient, agent, entity, time, outcome,
interaction, action and purpose, newest first, paged by keyset (recorded, seq), so a page
costs the same at ten million events as at ten.

Every read of the log says whose view it is (`seen_by`): an organisation's IG lead sees
only the events their organisation took part in, as the caller or as the origin of, or a
party to, the data the event names (as the event's own bytes record them: the
gateway.audit.log.ORGANISATION references are computed from them). That is a condition
of the query itself, so pages, their links and the report hold exactly those events.
`seen_by=None` is the one system-wide IG lead's view (clients.yaml `access_log`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, or_, select

from gateway.audit.log import AGENT, ENTITY, ORGANISATION
from gateway.store.schema import audit_events, audit_references

_STREAM_ROWS = 1000


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
    rows = [_row(found) for found in connection.execute(statement)]
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
    for found in connection.execute(statement):
        yield _row(found)


def event_by_id(connection: Connection, event_id: str, *, seen_by: str | None) -> AuditRow | None:
    """The event, if it exists and is in this view (None either way otherwise)."""
    conditions = [audit_events.c.event_id == event_id, *_view(seen_by)]
    found = connection.execute(_columns().where(*conditions)).first()
    return None if found is None else _row(found)


def references_of(connection: Connection, seqs: list[int], kind: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not seqs:
        return found
    statement = select(audit_references.c.event_seq, audit_references.c.value).where(
        audit_references.c.kind == kind, audit_references.c.event_seq.in_(seqs)
    )
    for seq, value in connection.execute(statement):
        found.setdefault(int(seq), []).append(value)
    return found


_COLUMNS = (
    audit_events.c.seq,
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


def _row(found: Row[Any]) -> AuditRow:
    values = found._mapping
    return AuditRow(
        seq=int(values["seq"]),
        event_id=values["event_id"],
        recorded=values["recorded"],
        content=bytes(values["content"]),
        patient=values["patient"],
        client_id=values["client_id"],
        ods_code=values["ods_code"],
        subtype=values["subtype"],
        action=values["action"],
        outcome=int(values["outcome"]),
        purpose=values["purpose"],
        request_id=values["request_id"],
    )
