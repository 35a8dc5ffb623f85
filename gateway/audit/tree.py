"""The Merkle tree as the database holds it: leaf hashes on the events (by position) and
complete subtree hashes at every 8th level (audit_nodes). Any root or proof is computed
from at most a few hundred stored hashes, fetched with one query per level."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func, select

from gateway.audit.merkle import Node, base_nodes, hash_nodes
from gateway.store.schema import audit_events, audit_nodes


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
        known: dict[Node, bytes] = {}
        for level, indices in base_nodes(nodes, size).items():
            known.update(self._stored(level, indices))
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

    def _stored(self, level: int, indices: list[int]) -> dict[Node, bytes]:
        found: dict[Node, bytes] = {}
        # Bounded IN lists: a proof needs a few hundred hashes at most.
        for start in range(0, len(indices), 500):
            chunk = indices[start : start + 500]
            if level == 0:
                query = select(audit_events.c.position, audit_events.c.leaf_hash).where(
                    audit_events.c.position.in_(chunk)
                )
            else:
                query = select(audit_nodes.c.idx, audit_nodes.c.hash).where(
                    audit_nodes.c.level == level, audit_nodes.c.idx.in_(chunk)
                )
            found.update(((level, int(i)), bytes(h)) for i, h in self._connection.execute(query))
        return found
