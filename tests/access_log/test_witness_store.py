"""Holding another party's checkpoints, on both databases: the first is kept, a later one
only with a consistency proof from the one held, never one the log's key did not sign;
a stale old size is answered with the size held (C2SP tlog-witness's 409)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.access_log.checkpoint import Checkpoint, sign_checkpoint
from gateway.access_log.witness_protocol import AddCheckpoint
from gateway.access_log.witness_store import add_checkpoint, held_checkpoint
from gateway.configuration.audit_log import WitnessedLog
from gateway.platform.database import Database
from gateway.platform.errors import CheckpointNotExtended, Conflict, Forbidden, InvalidContent
from tests.access_log.test_witness_sender import KEY, ORIGIN, _proof, _signed
from tests.access_log.witnessing import sha256_hex

LOG = WitnessedLog(ORIGIN, KEY.public_key(), sha256_hex("token"))
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _add(database: Database, request: AddCheckpoint) -> None:
    with database.write() as connection:
        add_checkpoint(connection, LOG, request, NOW)


def _held_size(database: Database) -> int | None:
    with database.read() as connection:
        held = held_checkpoint(connection, ORIGIN)
    return None if held is None else held.checkpoint.tree_size


def test_a_witness_keeps_only_checkpoints_that_extend_the_one_it_holds(database: Database) -> None:
    first = _signed(10)
    _add(database, AddCheckpoint(0, [], first))
    assert _held_size(database) == 10

    second = _signed(25, first)
    with pytest.raises(CheckpointNotExtended) as stale:
        _add(database, AddCheckpoint(0, [], second))
    assert stale.value.headers == {"Tlog-Size": "10"}
    with pytest.raises(InvalidContent) as unproven:
        _add(database, AddCheckpoint(10, [bytes(32)], second))
    assert unproven.value.status == 422
    forged = sign_checkpoint(second.checkpoint, Ed25519PrivateKey.generate(), ORIGIN)
    with pytest.raises(Forbidden):
        _add(database, AddCheckpoint(10, _run(10, 25), forged))
    assert _held_size(database) == 10

    _add(database, AddCheckpoint(10, _run(10, 25), second))
    assert _held_size(database) == 25
    _add(database, AddCheckpoint(25, [], second))  # a repeat is answered, not stored twice
    other = sign_checkpoint(Checkpoint(ORIGIN, 25, bytes(32), NOW), KEY, ORIGIN)
    with pytest.raises(Conflict):
        _add(database, AddCheckpoint(25, [], other))
    assert _held_size(database) == 25


def _run(old: int, new: int) -> list[bytes]:
    return asyncio.run(_proof(old, new))
