"""`gateway audit verify`: recompute the whole tree from the database and check every
checkpoint against it (signatures, roots, sizes, times), reporting the first bad
position. The checks themselves are the standalone verifier's (gateway.audit.verify).
Then every event's searched columns and reference rows are re-derived from its bytes
(gateway.audit.derivation): the first that differs fails the pass too."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import replace

from sqlalchemy import Connection, func, select

from gateway.audit.derivation import first_disagreement
from gateway.audit.export import (
    checkpoints_from,
    first_live_position,
    frontier,
    sequenced_events,
)
from gateway.audit.keys import AuditSigningKey
from gateway.audit.verify import Report, verify_log
from gateway.store.schema import audit_events


def sequenced_count(connection: Connection) -> int:
    query = select(func.count()).where(audit_events.c.position.is_not(None))
    return int(connection.execute(query).scalar() or 0)


def verify_database(
    connection: Connection,
    key: AuditSigningKey,
    *,
    progress: Callable[[int], None] | None = None,
) -> Report:
    # After archiving, the tree continues from the frontier kept in audit_nodes; the
    # first checkpoint after it proves that frontier (and everything since).
    first = first_live_position(connection)
    signed = checkpoints_from(connection, first, None)
    with closing(sequenced_events(connection)) as events:
        report = verify_log(
            events,
            signed,
            {key.key_id: key.public_key},
            origin=key.name,
            first_position=first,
            frontier=frontier(connection, first),
            progress=progress,
        )
    return with_derivations_checked(connection, report)


def with_derivations_checked(connection: Connection, report: Report) -> Report:
    """Once the bytes are proven, the searched values must be theirs: the first event
    whose columns or reference rows differ fails the pass (gateway.audit.derivation)."""
    if not report.ok:
        return report
    found = first_disagreement(connection)
    if found is None:
        return report
    return replace(report, ok=False, first_bad_position=found.position, problem=found.describe())
