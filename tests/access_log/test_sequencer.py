"""The sequencer on both databases: dense positions in commit order, stored subtrees that
agree with the tree recomputed from the events, checkpoints by count, by time and on
demand, and proofs from the stored tree that verify with the RFC 9162 algorithms."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from gateway.access_log.checkpoint import SignedCheckpoint, verify_signature
from gateway.access_log.merkle import TreeBuilder, leaf_hash, verify_consistency, verify_inclusion
from gateway.access_log.proofs import consistency_proof, inclusion_proof, latest_checkpoint
from gateway.access_log.sequencer import SEQUENCER_LOCK, Sequencer, SequencingPolicy
from gateway.access_log.tree import StoredTree, TreeInconsistent
from gateway.platform.database import Database
from gateway.platform.errors import Conflict, NotFound
from gateway.platform.schema import audit_checkpoints, audit_events, audit_nodes
from tests.access_log.events import append, key

KEY = key()


def _sequence_all(database: Database, sequencer: Sequencer, *, now: bool = True) -> int:
    size = 0
    with database.write() as connection:
        while (outcome := sequencer.run(connection, checkpoint_now=now)).sequenced:
            size = outcome.tree_size
        return max(size, outcome.tree_size)


def _leaves(database: Database) -> list[bytes]:
    with database.read() as connection:
        rows = connection.execute(
            select(audit_events.c.content).order_by(audit_events.c.position)
        ).all()
    return [leaf_hash(bytes(content)) for (content,) in rows]


def _root(leaves: list[bytes]) -> bytes:
    builder = TreeBuilder()
    builder.extend(leaves)
    return builder.root()


def test_positions_are_dense_and_follow_commit_order(database: Database) -> None:
    sequencer = Sequencer(KEY, SequencingPolicy(batch=7))
    with database.write() as connection:
        append(connection, 5)
    # An event that commits after a later-inserted one still gets the next position.
    early = database.write()
    early_connection = early.__enter__()
    if database.dialect == "postgresql":
        append(early_connection, 1, start=100)
        with database.write() as connection:
            append(connection, 3, start=5)
        early.__exit__(None, None, None)
    else:
        early.__exit__(None, None, None)  # SQLite has one writer: no interleaving
        with database.write() as connection:
            append(connection, 4, start=5)
    size = _sequence_all(database, sequencer)
    assert size == 9
    with database.read() as connection:
        positions = connection.execute(
            select(audit_events.c.position).order_by(audit_events.c.position)
        ).scalars()
        assert list(positions) == list(range(9))


@pytest.mark.parametrize("count", [1, 15, 16, 255, 256, 257, 700])
def test_the_stored_tree_agrees_with_the_events(database: Database, count: int) -> None:
    sequencer = Sequencer(KEY, SequencingPolicy(batch=100))
    with database.write() as connection:
        append(connection, count)
    assert _sequence_all(database, sequencer) == count
    leaves = _leaves(database)
    checkpoint = _latest(database)
    assert checkpoint.checkpoint.tree_size == count
    assert checkpoint.checkpoint.root_hash == _root(leaves)
    assert verify_signature(checkpoint, {KEY.key_id: KEY.public_key})
    with database.read() as connection:
        stored = connection.execute(select(func.count()).select_from(audit_nodes)).scalar()
        # One hash per complete subtree at levels 4, 8, 12...
        assert stored == sum(count >> level for level in range(4, 64, 4))
        assert StoredTree(connection).size() == count


def test_inclusion_and_consistency_proofs_verify(database: Database) -> None:
    sequencer = Sequencer(KEY, SequencingPolicy(batch=1000))
    with database.write() as connection:
        append(connection, 300)
    _sequence_all(database, sequencer)
    first = _latest(database)
    with database.write() as connection:
        append(connection, 450, start=300)
    _sequence_all(database, sequencer)
    second = _latest(database)
    with database.read() as connection:
        event_ids = connection.execute(
            select(audit_events.c.event_id, audit_events.c.position).order_by(
                audit_events.c.position
            )
        ).all()
        for event_id, position in [event_ids[0], event_ids[255], event_ids[256], event_ids[-1]]:
            proof = inclusion_proof(connection, event_id)
            assert proof.leaf_index == position
            size = proof.checkpoint.checkpoint.tree_size
            assert verify_inclusion(
                proof.leaf_hash, position, size, proof.path, proof.checkpoint.checkpoint.root_hash
            )
            assert not verify_inclusion(
                proof.leaf_hash, position + 1, size, proof.path, second.checkpoint.root_hash
            )
        older = inclusion_proof(connection, event_ids[10][0], tree_size=300)
        assert verify_inclusion(older.leaf_hash, 10, 300, older.path, first.checkpoint.root_hash)
        consistency = consistency_proof(connection, 300, 750)
        assert verify_consistency(
            300, 750, first.checkpoint.root_hash, second.checkpoint.root_hash, consistency.path
        )
        with pytest.raises(NotFound):
            inclusion_proof(connection, "no-such-event")
        with pytest.raises(NotFound):
            consistency_proof(connection, 299, 750)


def test_an_event_not_yet_in_a_checkpoint_has_no_proof_yet(database: Database) -> None:
    sequencer = Sequencer(KEY, SequencingPolicy(checkpoint_every_events=1000))
    with database.write() as connection:
        append(connection, 3)
    _sequence_all(database, sequencer)
    with database.write() as connection:
        append(connection, 1, start=3)
    _sequence_all(database, sequencer, now=False)
    with database.read() as connection:
        newest = connection.execute(
            select(audit_events.c.event_id).where(audit_events.c.position == 3)
        ).scalar_one()
        with pytest.raises(Conflict):
            inclusion_proof(connection, newest)


def test_checkpoints_follow_the_policy(database: Database) -> None:
    clock = [datetime(2026, 11, 30, 12, 0, tzinfo=UTC)]
    policy = SequencingPolicy(checkpoint_every_events=10, checkpoint_every=timedelta(seconds=30))
    sequencer = Sequencer(KEY, policy, clock=lambda: clock[0])

    def run() -> None:
        with database.write() as connection:
            sequencer.run(connection)

    def sizes() -> list[int]:
        with database.read() as connection:
            query = select(audit_checkpoints.c.tree_size).order_by(audit_checkpoints.c.tree_size)
            return list(connection.execute(query).scalars())

    with database.write() as connection:
        append(connection, 3)
    run()
    assert sizes() == [3]  # the first events are attested at once
    with database.write() as connection:
        append(connection, 4, start=3)
    run()
    assert sizes() == [3]  # 4 new events, 0 s later: not yet
    clock[0] += timedelta(seconds=31)
    run()
    assert sizes() == [3, 7]  # time is up
    with database.write() as connection:
        append(connection, 10, start=7)
    run()
    assert sizes() == [3, 7, 17]  # ten events is enough
    run()
    assert sizes() == [3, 7, 17]  # nothing new, nothing signed


def test_checkpoint_time_never_goes_backwards(database: Database) -> None:
    late = Sequencer(KEY, clock=lambda: datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    behind = Sequencer(KEY, clock=lambda: datetime(2026, 11, 30, 11, 0, tzinfo=UTC))
    with database.write() as connection:
        append(connection, 2)
        late.run(connection, checkpoint_now=True)
        append(connection, 2, start=2)
    with database.write() as connection:
        behind.run(connection, checkpoint_now=True)
    assert _latest(database).checkpoint.timestamp == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_missing_stored_hash_is_reported_not_guessed(database: Database) -> None:
    sequencer = Sequencer(KEY)
    with database.write() as connection:
        append(connection, 3)
    _sequence_all(database, sequencer)
    with database.write() as connection:
        connection.execute(
            update(audit_events).where(audit_events.c.position == 1).values(position=None)
        )
    with database.read() as connection, pytest.raises(TreeInconsistent):
        StoredTree(connection).hashes([(2, 0)], 3)


def _latest(database: Database) -> SignedCheckpoint:
    with database.read() as connection:
        found = latest_checkpoint(connection)
    assert found is not None
    return found


def test_a_checkpoint_on_demand_waits_for_a_run_in_another_process(database: Database) -> None:
    """Asked for a checkpoint now, the sequencer waits for another process's run to let go
    of the sequencer lock rather than skip its turn: the checkpoint it returns covers the
    events committed before the request (a background run holding the lock made an IG
    lead's checkpoint miss the event they had just caused)."""
    sequencer = Sequencer(KEY, SequencingPolicy())
    with database.write() as connection:
        append(connection, 3)
    release = threading.Event()
    held = threading.Event()

    def other_process_run() -> None:
        try:
            with database.write() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK}
                    )
                held.set()
                release.wait()
        finally:
            held.set()

    # No timed waits: under libfaketime (the suite runs once a year ahead) a thread's
    # timed wait never times out, so the other run is let go by what the test sees.
    holder = threading.Thread(target=other_process_run)
    releaser = threading.Thread(target=_release_when_waiting, args=(database, release))
    holder.start()
    try:
        held.wait()
        if database.dialect == "postgresql":
            # Without waiting, the turn is skipped while the other run holds the lock.
            with database.write() as connection:
                assert not sequencer.run(connection, checkpoint_now=True).ran
            # Let the other run go once this one is seen queued behind it for the lock.
            releaser.start()
        else:
            release.set()  # one writer at a time: the other run finishes first
            holder.join()
        with database.write() as connection:
            outcome = sequencer.run(connection, checkpoint_now=True, wait=True)
    finally:
        release.set()
        holder.join()
        if releaser.is_alive():
            releaser.join()
    assert outcome.ran
    assert outcome.sequenced == 3
    assert outcome.checkpoint is not None
    assert outcome.checkpoint.checkpoint.tree_size == 3


def _release_when_waiting(database: Database, release: threading.Event) -> None:
    """Set `release` once some session waits for an advisory lock (or after ~10 s)."""
    try:
        for _ in range(1000):
            with database.read() as connection:
                waiting = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    )
                ).scalar_one()
            if waiting:
                return
            time.sleep(0.01)
    finally:
        release.set()
