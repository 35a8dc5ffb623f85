"""Proof latency, in process: `gateway.access_log.proofs.inclusion_proof` for random events
(against the latest checkpoint, as GET /audit/proofs/inclusion asks by default) and
`consistency_proof` between random pairs of checkpoint sizes, each call timed alone in a
read transaction of its own (time.perf_counter), after a warm-up.

Where the time goes is measured by wrapping, for the duration, the functions
`gateway.access_log.tree.StoredTree.hashes` calls (the gateway's code is not changed):

- **stored-hash queries**: `StoredTree._stored` (building the statement, executing it,
  reading the rows: however the gateway fetches the stored hashes);
  **of which in the driver**: the time inside the DBAPI cursor's execute (PostgreSQL's
  work, the network and psycopg's, from SQLAlchemy's before/after_cursor_execute);
- **hashing**: `hash_nodes` (the proof's nodes computed from the stored hashes);
- **planning**: `base_nodes` (which stored hashes a proof needs);
- **other**: the rest of the call: the event's and the checkpoint's own queries, the
  signed checkpoint parsed from its JSON, the proof's node list.

Every proof is verified (`merkle.verify_inclusion`, `verify_consistency`) against its
checkpoint's root: one that does not verify stops the run.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event, select

from bench.stats import percentile
from gateway.access_log import proofs, tree
from gateway.access_log.merkle import verify_consistency, verify_inclusion
from gateway.platform.database import Database
from gateway.platform.schema import audit_checkpoints, audit_events

PARTS = ("stored-hash queries", "of which in the driver", "hashing", "planning", "other")


@dataclass(frozen=True, slots=True)
class ProofTiming:
    kind: str
    proofs: int
    tree_size: int  # of the latest checkpoint (inclusion) or the largest (consistency)
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    mean_path: float  # hashes in a proof
    mean_fetched: float  # stored hashes read from the database per proof
    # Mean ms per proof spent in each part (see the module docstring).
    parts_ms: dict[str, float]
    parts_p50_ms: dict[str, float]


class _Clock:
    """Accumulates time spent in the wrapped functions during one proof."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self.fetched = 0
        self._driver_started = 0.0

    def reset(self) -> None:
        self.spent = dict.fromkeys(PARTS, 0.0)
        self.fetched = 0

    def wrap(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent[part] += time.perf_counter() - started

        return timed

    def before(self, *_: Any) -> None:
        self._driver_started = time.perf_counter()

    def after(self, *_: Any) -> None:
        self.spent["of which in the driver"] += time.perf_counter() - self._driver_started


@contextmanager
def _instrumented(clock: _Clock, connection: Connection) -> Iterator[None]:
    stored, hash_nodes, base_nodes = tree.StoredTree._stored, tree.hash_nodes, tree.base_nodes

    def counted(self: tree.StoredTree, *args: Any, **kwargs: Any) -> Any:
        found = stored(self, *args, **kwargs)
        clock.fetched += len(found)
        return found

    tree.StoredTree._stored = clock.wrap("stored-hash queries", counted)  # type: ignore[method-assign]
    tree.hash_nodes = clock.wrap("hashing", hash_nodes)
    tree.base_nodes = clock.wrap("planning", base_nodes)
    event.listen(connection, "before_cursor_execute", clock.before)
    event.listen(connection, "after_cursor_execute", clock.after)
    try:
        yield
    finally:
        tree.StoredTree._stored = stored  # type: ignore[method-assign]
        tree.hash_nodes, tree.base_nodes = hash_nodes, base_nodes
        event.remove(connection, "before_cursor_execute", clock.before)
        event.remove(connection, "after_cursor_execute", clock.after)


def measure_proofs(
    url: str, *, count: int, warmup: int, seed: int
) -> tuple[ProofTiming, ProofTiming]:
    database = Database(url)
    rng = random.Random(seed)
    try:
        with database.read() as connection:
            latest = proofs.latest_checkpoint(connection)
            assert latest is not None
            size = latest.checkpoint.tree_size
            positions = [rng.randrange(size) for _ in range(warmup + count)]
            ids = dict(
                connection.execute(
                    select(audit_events.c.position, audit_events.c.event_id).where(
                        audit_events.c.position.in_(sorted(set(positions)))
                    )
                ).all()
            )
            sizes = [
                int(row[0])
                for row in connection.execute(
                    select(audit_checkpoints.c.tree_size).order_by(audit_checkpoints.c.tree_size)
                )
            ]
        if len(sizes) < 2:
            raise RuntimeError("the consistency proofs need two checkpoints at least")
        pairs = [tuple(sorted(rng.sample(sizes, 2))) for _ in range(warmup + count)]

        def check_inclusion(position: int, proof: proofs.InclusionProof) -> tuple[int, int]:
            checkpoint = proof.checkpoint.checkpoint
            if proof.leaf_index != position or not verify_inclusion(
                proof.leaf_hash, position, checkpoint.tree_size, proof.path, checkpoint.root_hash
            ):
                raise AssertionError(f"the inclusion proof of position {position} fails")
            return len(proof.path), checkpoint.tree_size

        def check_consistency(
            pair: tuple[int, int], proof: proofs.ConsistencyProof
        ) -> tuple[int, int]:
            first, second = pair
            if not verify_consistency(
                first,
                second,
                proof.first.checkpoint.root_hash,
                proof.second.checkpoint.root_hash,
                proof.path,
            ):
                raise AssertionError(f"the consistency proof {first} -> {second} fails")
            return len(proof.path), second

        return (
            _timed(
                database,
                "inclusion proof",
                positions,
                lambda connection, position: proofs.inclusion_proof(connection, ids[position]),
                check_inclusion,
                warmup,
            ),
            _timed(
                database,
                "consistency proof",
                pairs,
                lambda connection, pair: proofs.consistency_proof(connection, *pair),
                check_consistency,
                warmup,
            ),
        )
    finally:
        database.dispose()


def _timed(
    database: Database,
    kind: str,
    work: list[Any],
    prove: Callable[[Connection, Any], Any],
    check: Callable[[Any, Any], tuple[int, int]],
    warmup: int,
) -> ProofTiming:
    clock = _Clock()
    totals: list[float] = []
    parts: dict[str, list[float]] = {part: [] for part in PARTS}
    paths = fetched = 0
    largest = 0
    for number, item in enumerate(work):
        with database.read() as connection, _instrumented(clock, connection):
            clock.reset()
            started = time.perf_counter()
            proof = prove(connection, item)
            elapsed = time.perf_counter() - started
        length, size = check(item, proof)  # every proof verifies, warm-up included
        if number < warmup:
            continue
        totals.append(elapsed * 1000)
        accounted = sum(clock.spent[p] for p in PARTS if p not in ("other", PARTS[1]))
        clock.spent["other"] = elapsed - accounted
        for part in PARTS:
            parts[part].append(clock.spent[part] * 1000)
        paths += length
        fetched += clock.fetched
        largest = max(largest, size)
    measured = len(totals)
    return ProofTiming(
        kind=kind,
        proofs=measured,
        tree_size=largest,
        p50_ms=percentile(totals, 0.50),
        p99_ms=percentile(totals, 0.99),
        max_ms=max(totals),
        mean_ms=math.fsum(totals) / measured,
        mean_path=paths / measured,
        mean_fetched=fetched / measured,
        parts_ms={part: math.fsum(values) / measured for part, values in parts.items()},
        parts_p50_ms={part: percentile(values, 0.5) for part, values in parts.items()},
    )
