"""`gateway audit archive`: move the oldest part of the log out of the database, monthly,
without breaking the checkpoint chain.

The archived range always ends on a multiple of 16 positions. From level 4 up the tree's
interior stays in audit_nodes, and no root or proof of a later event ever needs a leaf
below such a boundary, so checkpoints, proofs and `gateway audit verify` carry on from
the boundary (the verifier starts from the frontier kept there). The range is first
exported, up to the first checkpoint at or after the boundary, and that export is
verified before anything is deleted: it stands on its own, with the keys, checkpoints
and frontier needed to check it anywhere (python -m gateway.access_log.verify DIR).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, delete, func, select

from gateway.access_log.export import ExportSummary, export_log, first_live_position
from gateway.access_log.keys import KeyHistory
from gateway.access_log.merkle import STRIDE
from gateway.access_log.verify import load_export, verify_export
from gateway.platform.schema import audit_checkpoints, audit_events, audit_references

BOUNDARY = 1 << STRIDE


@dataclass(frozen=True, slots=True)
class ArchiveOutcome:
    # Positions [first, until) were removed from the database; the export runs to `exported_until`.
    first: int
    until: int
    exported_until: int
    export: ExportSummary | None


class ArchiveRefused(Exception):
    """The export did not verify, so nothing was deleted; the message names positions only."""


def archive_before(
    connection: Connection, before: datetime, directory: Path, keys: KeyHistory
) -> ArchiveOutcome:
    """Archive the attested events recorded before `before` (in the caller's transaction)."""
    first = first_live_position(connection)
    until = _boundary(connection, before)
    if until <= first:
        return ArchiveOutcome(first, first, first, None)
    exported_until = connection.execute(
        select(func.min(audit_checkpoints.c.tree_size)).where(
            audit_checkpoints.c.tree_size >= until
        )
    ).scalar_one()
    summary = export_log(connection, directory, keys, end=int(exported_until))
    report = verify_export(load_export(directory))
    if not report.ok:
        raise ArchiveRefused(f"the export did not verify ({report.problem}); nothing was deleted")
    _delete_before(connection, until)
    return ArchiveOutcome(first, until, int(exported_until), summary)


def _boundary(connection: Connection, before: datetime) -> int:
    """The last multiple of 16 that is neither past the latest checkpoint nor past the
    first event recorded on or after `before`."""
    attested = connection.execute(select(func.max(audit_checkpoints.c.tree_size))).scalar()
    if attested is None:
        return 0
    newer = connection.execute(
        select(func.min(audit_events.c.position)).where(
            audit_events.c.position.is_not(None), audit_events.c.recorded >= before
        )
    ).scalar()
    limit = int(attested) if newer is None else min(int(attested), int(newer))
    return limit - limit % BOUNDARY


def _delete_before(connection: Connection, until: int) -> None:
    doomed = select(audit_events.c.seq).where(audit_events.c.position < until)
    connection.execute(delete(audit_references).where(audit_references.c.event_seq.in_(doomed)))
    connection.execute(delete(audit_events).where(audit_events.c.position < until))
