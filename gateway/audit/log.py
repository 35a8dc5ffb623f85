"""Appending to the access log, inside the caller's transaction.

How many processes log concurrently without waiting on each other
-----------------------------------------------------------------
A request appends its AuditEvents with a plain INSERT in its own transaction: the
canonical event bytes (the Merkle leaf's data, RFC 9162 leaf = SHA-256(0x00 || bytes)),
the leaf hash, computed here outside any lock, and the columns the IG search filters on.
The row gets `seq` from the database's sequence (insertion order, with gaps, not commit
order) and no `position`. Nothing is locked (the one read is of which organisations the
named data concerns, for the IG leads' views), so a write's audit record commits
atomically with the write itself, and any number of gateway processes append at once.

The sequencer (gateway.audit.sequencer) then gives committed events their positions in
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

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.exc import SQLAlchemyError

from gateway.audit.merkle import leaf_hash
from gateway.errors import AuditUnavailable
from gateway.logging import get_logger
from gateway.store.participants import organisations_of
from gateway.store.schema import audit_events, audit_references
from mappings.audit_event import AuditFacts, audit_event, canonical_json

log = get_logger(__name__)

ENTITY, AGENT = "entity", "agent"
# The organisations that took part in an event besides the caller (whose ODS code is a
# column): the origin of, and every party to, the data it names. An IG lead who is not
# system-wide sees the events of their own organisation, as caller or as one of these.
ORGANISATION = "org"


def append(connection: Connection, events: Sequence[AuditFacts]) -> None:
    """Add the events to the log within the connection's transaction (fails closed)."""
    if not events:
        return
    rows = [_row(facts) for facts in events]
    try:
        inserted = connection.execute(
            insert(audit_events).returning(audit_events.c.seq, sort_by_parameter_order=True),
            rows,
        ).all()
        organisations = _organisations(connection, events)
        references = [
            {"kind": kind, "value": value, "event_seq": seq}
            for (seq,), facts, taking_part in zip(inserted, events, organisations, strict=True)
            for kind, value in sorted(_references(facts) | taking_part)
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


def _row(facts: AuditFacts) -> dict[str, Any]:
    content = canonical_json(audit_event(facts))
    return {
        "event_id": facts.event_id,
        "recorded": facts.recorded,
        "content": content,
        "leaf_hash": leaf_hash(content),
        "patient": facts.patient,
        "client_id": facts.client.client_id if facts.client else None,
        "ods_code": facts.client.ods_code if facts.client else None,
        "subtype": facts.subtype.code,
        "action": facts.action,
        "outcome": facts.outcome,
        "purpose": facts.purpose_of_use[0].code if facts.purpose_of_use else None,
        "request_id": facts.request_id,
    }


def _organisations(
    connection: Connection, events: Sequence[AuditFacts]
) -> list[set[tuple[str, str]]]:
    """Per event, (ORGANISATION, ODS code) for each organisation its data concerns, as
    the store holds that data in this same transaction."""
    keys = [[(d.resource_type, d.resource_id, d.version_id) for d in f.data] for f in events]
    found = organisations_of(connection, (key for named in keys for key in named))
    taking_part: list[set[tuple[str, str]]] = []
    for facts, named in zip(events, keys, strict=True):
        caller = facts.client.ods_code if facts.client else None
        codes = {code for key in named for code in found.get(key, ())}
        taking_part.append({(ORGANISATION, code) for code in codes if code != caller})
    return taking_part


def _references(facts: AuditFacts) -> set[tuple[str, str]]:
    found = {(ENTITY, f"{data.resource_type}/{data.resource_id}") for data in facts.data}
    if facts.end_user is not None:
        if facts.end_user.organisation_ods:
            found.add((AGENT, facts.end_user.organisation_ods))
        found.update((AGENT, value[:255]) for _, value in facts.end_user.practitioner_identifiers)
    return found
