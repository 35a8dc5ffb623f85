"""Appending to the access log, inside the caller's transaction.

How many processes log concurrently without waiting on each other
-----------------------------------------------------------------
A request appends its AuditEvents with a plain INSERT in its own transaction: the
canonical event bytes (the Merkle leaf's data, RFC 9162 leaf = SHA-256(0x00 || bytes)),
the leaf hash, computed here outside any lock, and the columns the IG search filters on,
derived from those bytes (core.access_log.index) and from nothing else.
The row gets `seq` from the database's sequence (insertion order, with gaps, not commit
order) and no `position`. Nothing is locked, so a write's audit record commits atomically
with the write itself, and any number of gateway processes append at once.

The one read: before an event's bytes are made, one batched query finds, for every
resource the events name, the organisations its data concerns as the store holds the
version named in this same transaction (gateway.fhir.participants). The event records
them (core.access_log.event, data entity details), so the bytes the tree signs say whose IG
leads see the event; every row in audit_references is derived from the bytes too, so
`gateway audit verify` re-derives each one (gateway.access_log.derivation).

The sequencer (gateway.access_log.sequencer) then gives committed events their positions in
the Merkle tree, in the order it finds them, one batch at a time, under a lock that only
sequencers take (a PostgreSQL advisory lock; SQLite has one writer anyway). An event
that commits late, behind a higher `seq`, simply gets the next free position in a later
batch: positions are dense and ordered by when the sequencer saw the event, and the tree
is append-only. The sequencer stores the hashes of completed subtrees at every 4th
level and signs checkpoints (tree size, root, time) every N events or T seconds.

Failure is closed: if the append fails, AuditUnavailable (503) is raised and the
caller's transaction rolls back, so nothing is done that was not logged.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.exc import SQLAlchemyError

from core.access_log.event import AuditedData, AuditFacts, audit_event, canonical_json
from core.access_log.index import AGENT, ENTITY, ORGANISATION, index_of
from gateway.access_log.merkle import leaf_hash
from gateway.fhir.participants import DataKey, organisations_of
from gateway.platform.errors import AuditUnavailable
from gateway.platform.logging import get_logger
from gateway.platform.schema import audit_events, audit_references

log = get_logger(__name__)

# The kinds of reference row (core.access_log.index). ORGANISATION: every organisation the
# event's data concerns, as the event records it: the origin of, and every party to, each
# resource it names (the caller's own too, when it is one). An IG lead who is not
# system-wide sees the events of their own organisation, as the caller (a column) or as
# one of these.
__all__ = ["AGENT", "ENTITY", "ORGANISATION", "append", "organisation_references"]


def append(connection: Connection, events: Sequence[AuditFacts]) -> None:
    """Add the events to the log within the connection's transaction (fails closed)."""
    if not events:
        return
    try:
        rows = [_row(facts) for facts in _with_organisations(connection, events)]
        inserted = connection.execute(
            insert(audit_events).returning(audit_events.c.seq, sort_by_parameter_order=True),
            [row for row, _ in rows],
        ).all()
        references = [
            {"kind": kind, "value": value, "event_seq": seq}
            for (seq,), (_, derived) in zip(inserted, rows, strict=True)
            for kind, value in sorted(derived)
        ]
        if references:
            connection.execute(insert(audit_references), references)
    except SQLAlchemyError as error:
        sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
        log.error(
            "audit.append_failed",
            error_type=type(error).__name__,
            sqlstate=sqlstate if isinstance(sqlstate, str) else None,
        )
        raise AuditUnavailable() from None


def organisation_references(content: bytes) -> set[tuple[str, str]]:
    """The "org" rows an event's canonical bytes vouch for, re-derived from them alone:
    exactly the ones `append` wrote for it. An event from before the organisations were
    recorded in the bytes has none (its caller's IG lead, and the system-wide one, see it)."""
    references = index_of(json.loads(content)).references
    return {(kind, value) for kind, value in references if kind == ORGANISATION}


def _row(facts: AuditFacts) -> tuple[dict[str, Any], frozenset[tuple[str, str]]]:
    """The event's row and its reference rows, every searched value derived from the
    canonical bytes by the same function verify and the search check them with."""
    content = canonical_json(audit_event(facts))
    index = index_of(json.loads(content))
    row = {"content": content, "leaf_hash": leaf_hash(content), **index.columns()}
    return row, index.references


def _with_organisations(connection: Connection, events: Sequence[AuditFacts]) -> list[AuditFacts]:
    """The events with each resource they name carrying the organisations its data
    concerns, as the store holds that version in this transaction: one batched lookup.
    Whatever the facts said before, the store's answer is what is recorded."""
    found = organisations_of(connection, (_key(data) for facts in events for data in facts.data))

    def held(data: AuditedData) -> AuditedData:
        organisations = found[_key(data)]
        return dataclasses.replace(
            data,
            origin_ods=organisations.origin,
            parties_ods=tuple(sorted(organisations.parties)),
        )

    return [
        dataclasses.replace(facts, data=tuple(map(held, facts.data))) if facts.data else facts
        for facts in events
    ]


def _key(data: AuditedData) -> DataKey:
    return data.resource_type, data.resource_id, data.version_id
