"""Checkpoints and RFC 9162 proofs, read from the database: what an IG lead (or anyone
holding a checkpoint) uses to check one event, or that the log only ever grew."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, select

from gateway.access_log.checkpoint import SignedCheckpoint
from gateway.access_log.merkle import Node, consistency_path, inclusion_path
from gateway.access_log.tree import StoredTree, TreeInconsistent
from gateway.platform.errors import BadRequest, Conflict, NotFound
from gateway.platform.schema import audit_checkpoints, audit_events


@dataclass(frozen=True, slots=True)
class InclusionProof:
    event_id: str
    leaf_index: int
    leaf_hash: bytes
    path: list[bytes]
    checkpoint: SignedCheckpoint


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    first: SignedCheckpoint
    second: SignedCheckpoint
    path: list[bytes]


def latest_checkpoint(connection: Connection) -> SignedCheckpoint | None:
    row = connection.execute(
        select(audit_checkpoints.c.signed).order_by(audit_checkpoints.c.tree_size.desc()).limit(1)
    ).first()
    return None if row is None else _parsed(row[0])


def checkpoint_at(connection: Connection, tree_size: int) -> SignedCheckpoint | None:
    row = connection.execute(
        select(audit_checkpoints.c.signed).where(audit_checkpoints.c.tree_size == tree_size)
    ).first()
    return None if row is None else _parsed(row[0])


def checkpoints(connection: Connection) -> Iterator[SignedCheckpoint]:
    """Every checkpoint, in increasing tree size (a few per hour: not paged)."""
    query = select(audit_checkpoints.c.signed).order_by(audit_checkpoints.c.tree_size)
    for (signed,) in connection.execute(query):
        yield _parsed(signed)


def inclusion_proof(
    connection: Connection, event_id: str, tree_size: int | None = None
) -> InclusionProof:
    row = connection.execute(
        select(audit_events.c.position, audit_events.c.leaf_hash).where(
            audit_events.c.event_id == event_id
        )
    ).first()
    if row is None:
        raise NotFound("No audit event has that id.")
    checkpoint = _checkpoint(connection, tree_size)
    position = row[0]
    if position is None or position >= checkpoint.checkpoint.tree_size:
        raise Conflict(
            "That event is not yet covered by a checkpoint (one is signed every few "
            "seconds); retry shortly, or ask for a checkpoint now."
        )
    size = checkpoint.checkpoint.tree_size
    path = _hashes(connection, inclusion_path(int(position), size), size)
    return InclusionProof(event_id, int(position), bytes(row[1]), path, checkpoint)


def consistency_proof(connection: Connection, first: int, second: int) -> ConsistencyProof:
    if not 1 <= first <= second:
        raise BadRequest("first and second must be tree sizes with 1 <= first <= second.")
    older, newer = _checkpoint(connection, first), _checkpoint(connection, second)
    path = _hashes(connection, consistency_path(first, second), second)
    return ConsistencyProof(older, newer, path)


def _checkpoint(connection: Connection, tree_size: int | None) -> SignedCheckpoint:
    found = (
        latest_checkpoint(connection) if tree_size is None else checkpoint_at(connection, tree_size)
    )
    if found is None:
        raise NotFound(
            "No checkpoint has been signed yet."
            if tree_size is None
            else "No checkpoint was signed at that tree size."
        )
    return found


def _hashes(connection: Connection, nodes: list[Node], size: int) -> list[bytes]:
    try:
        return StoredTree(connection).hashes(nodes, size)
    except TreeInconsistent:
        # Leaves before the archive boundary have left the database with their events.
        raise NotFound(
            "That proof needs events that have been archived: prove it from the archive's "
            "export (python -m gateway.access_log.verify), or ask about a later checkpoint."
        ) from None


def _parsed(signed: str) -> SignedCheckpoint:
    return SignedCheckpoint.from_json(json.loads(signed))
