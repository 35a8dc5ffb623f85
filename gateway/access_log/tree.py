"""The Merkle tree as the database holds it: leaf hashes on the events (by position) and
complete subtree hashes at every 4th level (audit_nodes). Any root or proof is computed
from about a hundred stored hashes, fetched in one round trip as a few index ranges."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, literal, select, union_all

from gateway.access_log.merkle import Node, base_nodes, hash_nodes
from gateway.platform.schema import audit_events, audit_nodes

# Runs of wanted indices closer than this are fetched as one range: a few spare rows
# cost less than another SELECT in the UNION.
_MERGE_GAP = 16


class TreeInconsistent(Exception):
    """A hash the tree needs is missing from the database (tampering or a bug); the log's
    verification (gateway audit verify) finds where."""


class StoredTree:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def size(self) -> int:
        highest = self._connection.execute(select(func.max(audit_events.c.position))).scalar()
        return 0 if highest is None else int(highest) + 1

    def hashes(self, nodes: Sequence[Node], size: int) -> list[bytes]:
        known = self._stored(base_nodes(nodes, size))
        try:
            return hash_nodes(nodes, size, known)
        except KeyError:
            raise TreeInconsistent("a stored hash the tree needs is missing") from None

    def store(self, level: int, hashes: dict[int, bytes]) -> None:
        if hashes:
            self._connection.execute(
                audit_nodes.insert(),
                [{"level": level, "idx": idx, "hash": value} for idx, value in hashes.items()],
            )

    def _stored(self, wanted: dict[int, list[int]]) -> dict[Node, bytes]:
        parts: list[Select[Any]] = []
        for level, indices in wanted.items():
            for low, high in _runs(indices):
                parts.append(_range(level, low, high))
        if not parts:
            return {}
        rows = self._connection.execute(union_all(*parts) if len(parts) > 1 else parts[0])
        return {(int(level), int(index)): bytes(digest) for level, index, digest in rows}


def _range(level: int, low: int, high: int) -> Select[Any]:
    if level == 0:
        return select(
            literal(0).label("level"),
            audit_events.c.position.label("idx"),
            audit_events.c.leaf_hash.label("hash"),
        ).where(audit_events.c.position.between(low, high))
    return select(audit_nodes.c.level, audit_nodes.c.idx, audit_nodes.c.hash).where(
        audit_nodes.c.level == level, audit_nodes.c.idx.between(low, high)
    )


def _runs(indices: list[int]) -> Iterator[tuple[int, int]]:
    """Sorted indices as inclusive (low, high) ranges, near neighbours merged."""
    low = high = indices[0]
    for index in indices[1:]:
        if index - high > _MERGE_GAP:
            yield low, high
            low = index
        high = index
    yield low, high
