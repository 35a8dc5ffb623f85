"""Giving committed audit events their positions in the Merkle tree, storing completed
subtree hashes, and signing checkpoints (see gateway.access_log.log for the whole design).

One sequencer runs at a time across all processes: on PostgreSQL it holds a
transaction-scoped advisory lock (another process that finds it taken just skips its
turn); SQLite has a single writer. A run assigns positions to a batch of committed
events in one UPDATE, in `seq` order, after the highest position already given, so the
tree only ever grows at its end. A checkpoint is signed when N events have been added
since the last one, when T seconds have passed with events unattested, or on demand;
its time never goes backwards, even when the signing process's clock is behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import Connection, bindparam, select, text

from gateway.access_log.checkpoint import Checkpoint, Link, SignedCheckpoint, sign_with
from gateway.access_log.keys import CheckpointSigner
from gateway.access_log.merkle import completed_stored_nodes, node_hash, root_node
from gateway.access_log.tree import StoredTree
from gateway.platform.clock import utc_now
from gateway.platform.schema import audit_checkpoints

# pg_try_advisory_xact_lock key: "audit" in ASCII, so it is recognisable in pg_locks.
SEQUENCER_LOCK = 0x6175646974

_ASSIGN_POSITIONS = text(
    """
    UPDATE audit_events SET position = :base + pending.rank - 1
    FROM (
        SELECT seq, row_number() OVER (ORDER BY seq) AS rank
        FROM audit_events WHERE position IS NULL ORDER BY seq LIMIT :batch
    ) AS pending
    WHERE audit_events.seq = pending.seq
    """
).bindparams(bindparam("base"), bindparam("batch"))


@dataclass(frozen=True, slots=True)
class SequencingPolicy:
    batch: int = 5000
    checkpoint_every_events: int = 1000
    checkpoint_every: timedelta = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class SequencingOutcome:
    sequenced: int
    tree_size: int
    checkpoint: SignedCheckpoint | None
    # False when another process holds the sequencer lock.
    ran: bool = True

    @property
    def more_waiting(self) -> bool:
        return self.ran and self.sequenced > 0


class Sequencer:
    def __init__(
        self,
        key: CheckpointSigner,
        policy: SequencingPolicy | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._key = key
        self._policy = policy or SequencingPolicy()
        self._clock = clock

    @property
    def origin(self) -> str:
        return self._key.name

    def run(
        self, connection: Connection, *, checkpoint_now: bool = False, wait: bool = False
    ) -> SequencingOutcome:
        """One batch, inside the caller's write transaction.

        `wait`: on demand (an IG lead or operator asked for a checkpoint now), wait for a
        run in another process to finish instead of skipping the turn; otherwise the
        checkpoint handed back could predate the events the caller just saw committed.
        """
        if connection.dialect.name == "postgresql":
            if wait:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK}
                )
            elif not connection.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK}
            ).scalar():
                return SequencingOutcome(0, 0, None, ran=False)
        tree = StoredTree(connection)
        size = tree.size()
        added = connection.execute(
            _ASSIGN_POSITIONS, {"base": size, "batch": self._policy.batch}
        ).rowcount
        new_size = size + added
        for level, nodes in groupby(completed_stored_nodes(size, new_size), key=lambda n: n[0]):
            # A new node's own row is what is being written: hash its two children,
            # which come from the level below (stored a moment ago, or leaves).
            wanted = [index for _, index in nodes]
            children = [(level - 1, 2 * i + side) for i in wanted for side in (0, 1)]
            hashes = tree.hashes(children, new_size)
            tree.store(
                level,
                {i: node_hash(hashes[2 * n], hashes[2 * n + 1]) for n, i in enumerate(wanted)},
            )
        checkpoint = self._checkpoint_if_due(connection, tree, new_size, checkpoint_now)
        return SequencingOutcome(added, new_size, checkpoint)

    def _checkpoint_if_due(
        self, connection: Connection, tree: StoredTree, size: int, forced: bool
    ) -> SignedCheckpoint | None:
        last = connection.execute(
            select(
                audit_checkpoints.c.tree_size,
                audit_checkpoints.c.signed_at,
                audit_checkpoints.c.signed,
            )
            .order_by(audit_checkpoints.c.tree_size.desc())
            .limit(1)
        ).first()
        last_size, last_time = (0, None) if last is None else (int(last[0]), last[1])
        # Each checkpoint commits to the one before it (signed): see checkpoint.check_chain.
        link = None if last is None else Link.to(SignedCheckpoint.from_json(json.loads(last[2])))
        if size == 0 or size <= last_size:
            return None
        now = self._clock()
        due = (
            forced
            or size - last_size >= self._policy.checkpoint_every_events
            or last_time is None
            or now - last_time >= self._policy.checkpoint_every
        )
        if not due:
            return None
        (root,) = tree.hashes([root_node(size)], size)
        moment = now if last_time is None else max(now, last_time)
        key = self._key
        signed = sign_with(
            Checkpoint(key.name, size, root, moment, previous=link),
            key.public_key,
            key.name,
            key.sign,
        )
        connection.execute(
            audit_checkpoints.insert(),
            {
                "tree_size": size,
                "root_hash": root,
                "signed_at": moment,
                "key_id": signed.key_id.hex(),
                "signed": json.dumps(signed.to_json(), separators=(",", ":")),
            },
        )
        return signed
