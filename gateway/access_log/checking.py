"""`gateway audit verify`: recompute the whole tree from the database and check every
checkpoint against it (signatures, keys, chain links, roots, sizes, times), reporting
the first bad position. The checks themselves are the standalone verifier's
(gateway.access_log.verify); the consistency proofs between consecutive checkpoints, built
from the stored subtree hashes as the gateway serves them, are checked here. Then every
event's searched columns and reference rows are re-derived from its bytes
(gateway.access_log.derivation): the first that differs fails the pass too."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import replace
from itertools import pairwise

from sqlalchemy import Connection, func, select

from gateway.access_log.checkpoint import SignedCheckpoint
from gateway.access_log.derivation import first_disagreement
from gateway.access_log.export import (
    checkpoints_from,
    first_live_position,
    frontier,
    sequenced_events,
)
from gateway.access_log.keys import KeyHistory
from gateway.access_log.merkle import consistency_path, verify_consistency
from gateway.access_log.tree import StoredTree, TreeInconsistent
from gateway.access_log.verify import Report, verify_log
from gateway.platform.schema import audit_events


def sequenced_count(connection: Connection) -> int:
    query = select(func.count()).where(audit_events.c.position.is_not(None))
    return int(connection.execute(query).scalar() or 0)


def verify_database(
    connection: Connection,
    keys: KeyHistory,
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
            keys.public_keys,
            origin=keys.origin,
            first_position=first,
            frontier=frontier(connection, first),
            progress=progress,
            key_periods=keys.periods,
        )
    if not report.ok:
        return report
    broken = check_consistency(connection, signed)
    if broken is None:
        return with_derivations_checked(connection, report)
    position, problem = broken
    return replace(report, ok=False, first_bad_position=position, problem=problem)


def check_consistency(
    connection: Connection, signed: Sequence[SignedCheckpoint]
) -> tuple[int, str] | None:
    """An RFC 9162 consistency proof, from the stored tree, between each two consecutive
    checkpoints: the first that fails as (the older one's size, problem), or None. It
    checks the interior hashes the gateway's own proofs are built from."""
    tree = StoredTree(connection)
    for older, newer in pairwise(signed):
        old, new = older.checkpoint, newer.checkpoint
        try:
            path = tree.hashes(consistency_path(old.tree_size, new.tree_size), new.tree_size)
        except TreeInconsistent:
            path = []
        if not verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, path):
            return old.tree_size, (
                f"no consistency proof from checkpoint of size {old.tree_size} "
                f"to checkpoint of size {new.tree_size}"
            )
    return None


def with_derivations_checked(connection: Connection, report: Report) -> Report:
    """Once the bytes are proven, the searched values must be theirs: the first event
    whose columns or reference rows differ fails the pass (gateway.access_log.derivation)."""
    if not report.ok:
        return report
    found = first_disagreement(connection)
    if found is None:
        return report
    return replace(report, ok=False, first_bad_position=found.position, problem=found.describe())
