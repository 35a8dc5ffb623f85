"""`gateway audit verify`'s check of the database, against edits made behind the
gateway's back: each is found, and reported at the position where the log stops being
provable. An edit that leaves an event's recorded hash behind is pinned to that event;
one that recomputes every unsigned hash can only be pinned to the checkpoint interval
that no longer verifies (checkpoints are the only signed facts)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Connection, delete, insert, select, update

from core.access_log.event import AuditOutcome
from gateway.access_log.checking import verify_database
from gateway.access_log.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from gateway.access_log.keys import KeyHistory
from gateway.access_log.merkle import leaf_hash
from gateway.access_log.sequencer import Sequencer, SequencingPolicy
from gateway.platform.database import Database
from gateway.platform.schema import audit_checkpoints, audit_events, audit_nodes
from tests.access_log.events import append, key

KEY = key()
KEYS = KeyHistory.of(KEY, ())
EVENTS, EVERY = 60, 10  # a checkpoint every ten events: sizes 10, 20, ... 60


@pytest.fixture
def log(database: Database) -> Database:
    sequencer = Sequencer(KEY, SequencingPolicy(batch=EVERY, checkpoint_every_events=EVERY))
    for start in range(0, EVENTS, EVERY):
        with database.write() as connection:
            append(connection, EVERY, start=start)
            sequencer.run(connection)
    return database


def _verify(database: Database) -> tuple[int | None, str | None]:
    with database.read() as connection:
        report = verify_database(connection, KEYS)
    return report.first_bad_position, report.problem


def _content(connection: Connection, position: int) -> bytes:
    query = select(audit_events.c.content).where(audit_events.c.position == position)
    return bytes(connection.execute(query).scalar_one())


def _set(connection: Connection, at: int, **values: object) -> None:
    connection.execute(update(audit_events).where(audit_events.c.position == at).values(**values))


def test_an_untouched_log_verifies(log: Database) -> None:
    with log.read() as connection:
        report = verify_database(connection, KEYS)
    assert report.ok
    assert (report.events_checked, report.checkpoints_checked, report.tree_size) == (60, 6, 60)


def flip_a_byte(connection: Connection) -> None:
    content = bytearray(_content(connection, 23))
    content[40] ^= 0x01
    _set(connection, 23, content=bytes(content))


def flip_a_byte_and_its_hash(connection: Connection) -> None:
    content = _content(connection, 23).replace(b'"R"', b'"U"')
    _set(connection, 23, content=content, leaf_hash=leaf_hash(content))


def delete_one(connection: Connection) -> None:
    connection.execute(delete(audit_events).where(audit_events.c.position == 23))


def reorder_two(connection: Connection) -> None:
    first, second = _content(connection, 23), _content(connection, 27)
    _set(connection, 23, content=second)
    _set(connection, 27, content=first)


def reorder_two_rows(connection: Connection) -> None:
    _set(connection, 27, position=-1)
    _set(connection, 23, position=27)
    _set(connection, -1, position=23)


def insert_one(connection: Connection) -> None:
    for position in range(EVENTS - 1, 22, -1):
        _set(connection, position, position=position + 1)
    content = _content(connection, 22).replace(b"sr-22", b"sr-xx").replace(b'"id":"', b'"id":"0')
    connection.execute(
        insert(audit_events).values(
            event_id="inserted",
            position=23,
            recorded=connection.execute(select(audit_events.c.recorded).limit(1)).scalar_one(),
            content=content,
            leaf_hash=leaf_hash(content),
            subtype="read",
            action="R",
            outcome=AuditOutcome.SUCCESS,
        )
    )


def truncate_the_tail(connection: Connection) -> None:
    connection.execute(delete(audit_events).where(audit_events.c.position >= 55))


def _replace_checkpoint(
    connection: Connection,
    size: int,
    change: Callable[[Checkpoint], Checkpoint],
    signer_key: object,
) -> None:
    row = connection.execute(
        select(audit_checkpoints.c.signed).where(audit_checkpoints.c.tree_size == size)
    ).scalar_one()
    signed = SignedCheckpoint.from_json(json.loads(row))
    forged = sign_checkpoint(change(signed.checkpoint), signer_key.private_key, KEY.name)  # type: ignore[attr-defined]
    connection.execute(
        update(audit_checkpoints)
        .where(audit_checkpoints.c.tree_size == size)
        .values(signed=json.dumps(forged.to_json()))
    )


def sign_with_another_key(connection: Connection) -> None:
    _replace_checkpoint(connection, 30, lambda c: c, key(KEY.name))


def date_a_checkpoint_earlier(connection: Connection) -> None:
    def earlier(checkpoint: Checkpoint) -> Checkpoint:
        return dataclasses.replace(checkpoint, timestamp=checkpoint.timestamp - timedelta(days=1))

    _replace_checkpoint(connection, 30, earlier, KEY)


def delete_a_middle_checkpoint(connection: Connection) -> None:
    connection.execute(delete(audit_checkpoints).where(audit_checkpoints.c.tree_size == 30))


def resign_a_middle_checkpoint(connection: Connection) -> None:
    """Replaced by one the real key signed, as an insider with the key could: the next
    checkpoint's link (the hash of the note it followed) no longer matches."""

    def later(checkpoint: Checkpoint) -> Checkpoint:
        return dataclasses.replace(
            checkpoint, timestamp=checkpoint.timestamp + timedelta(seconds=1)
        )

    _replace_checkpoint(connection, 30, later, KEY)


def alter_a_stored_subtree(connection: Connection) -> None:
    """The events are intact, but the interior hash the gateway's own proofs read is not."""
    connection.execute(
        update(audit_nodes)
        .where(audit_nodes.c.level == 4, audit_nodes.c.idx == 0)
        .values(hash=bytes(32))
    )


def strip_a_link(connection: Connection) -> None:
    _replace_checkpoint(connection, 30, lambda c: dataclasses.replace(c, previous=None), KEY)


@pytest.mark.parametrize(
    ("mutation", "position", "words"),
    [
        (flip_a_byte, 23, "does not match its hash"),
        (delete_one, 23, "missing"),
        (reorder_two, 23, "does not match its hash"),
        (truncate_the_tail, 55, "missing from position 55"),
        (date_a_checkpoint_earlier, 30, "dated before"),
        # Every unsigned hash recomputed: pinned to the interval of the first checkpoint
        # that no longer verifies (positions 20..29).
        (flip_a_byte_and_its_hash, 20, "positions 20..29"),
        (reorder_two_rows, 20, "positions 20..29"),
        (insert_one, 20, "positions 20..29"),
        (sign_with_another_key, 20, "not validly signed"),
        # The chain: each checkpoint names the size and note hash of the one before it.
        (delete_a_middle_checkpoint, 20, "size 40 links to a checkpoint of size 30 that is"),
        (resign_a_middle_checkpoint, 30, "size 40 links to a checkpoint of size 30 that is"),
        (strip_a_link, 20, "size 30 does not link to the one before it"),
        # Consistency proofs between consecutive checkpoints, from the stored subtrees.
        (alter_a_stored_subtree, 20, "no consistency proof from checkpoint of size 20 to"),
    ],
)
def test_every_edit_is_found_at_its_position(
    log: Database, mutation: Callable[[Connection], None], position: int, words: str
) -> None:
    with log.write() as connection:
        mutation(connection)
    found, problem = _verify(log)
    assert found == position
    assert problem is not None
    assert words in problem
    assert "9434765919" not in problem
