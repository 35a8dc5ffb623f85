"""Sending checkpoints to witnesses: a witness that is down is reported and retried, and
the next round brings it the newest checkpoint from the size it holds; a 409 names that
size. The outside world is faked at the HTTP boundary (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.access_log.checkpoint import Checkpoint, Link, SignedCheckpoint, sign_checkpoint
from gateway.access_log.merkle import TreeBuilder, consistency_path, hash_nodes, leaf_hash
from gateway.access_log.witness_files import newest_in_file
from gateway.access_log.witness_protocol import AddCheckpoint
from gateway.access_log.witness_sender import WitnessSender
from gateway.configuration.audit_log import FileWitness, HttpWitness

ORIGIN = "mh-gateway/test/audit"
KEY = Ed25519PrivateKey.generate()
LEAVES = [leaf_hash(str(i).encode()) for i in range(40)]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _root(size: int) -> bytes:
    builder = TreeBuilder()
    builder.extend(LEAVES[:size])
    return builder.root()


def _signed(size: int, previous: SignedCheckpoint | None = None) -> SignedCheckpoint:
    link = None if previous is None else Link.to(previous)
    checkpoint = Checkpoint(ORIGIN, size, _root(size), T0 + timedelta(seconds=size), link)
    return sign_checkpoint(checkpoint, KEY, ORIGIN)


async def _proof(old: int, new: int) -> list[bytes]:
    known = {(0, i): leaf for i, leaf in enumerate(LEAVES[:new])}
    return hash_nodes(consistency_path(old, new), new, known, stride=64)


WITNESS = HttpWitness("trust", "https://witness.example/audit/witness", "s3cret")


def test_a_witness_that_is_down_is_reported_then_brought_up_to_the_newest() -> None:
    received: list[AddCheckpoint] = []
    down = True

    def witness(request: httpx.Request) -> httpx.Response:
        if down:
            raise httpx.ConnectError("refused")
        assert request.headers["Authorization"] == "Bearer s3cret"
        received.append(AddCheckpoint.parse(request.content))
        return httpx.Response(200, text="\u2014 trust AAAA\n")

    sender = WitnessSender((WITNESS,), transport=httpx.MockTransport(witness))
    first = _signed(10)
    (result,) = asyncio.run(sender.push(first, _proof))
    assert (result.held_size, result.failure) == (None, "ConnectError")

    down = False
    second = _signed(20, first)  # newer while the witness was down: it is what is sent
    (result,) = asyncio.run(sender.push(second, _proof))
    assert (result.held_size, result.failure) == (20, None)
    assert [(r.old_size, r.checkpoint) for r in received] == [(0, second)]

    third = _signed(30, second)
    asyncio.run(sender.push(third, _proof))
    assert received[-1].old_size == 20
    assert received[-1].proof == asyncio.run(_proof(20, 30))


def test_a_409_names_the_size_the_witness_holds_and_is_retried_from_there() -> None:
    sent: list[int] = []

    def witness(request: httpx.Request) -> httpx.Response:
        added = AddCheckpoint.parse(request.content)
        sent.append(added.old_size)
        if added.old_size != 10:
            return httpx.Response(409, headers={"Tlog-Size": "10"})
        return httpx.Response(200, text="\u2014 trust AAAA\n")

    sender = WitnessSender((WITNESS,), transport=httpx.MockTransport(witness))
    (result,) = asyncio.run(sender.push(_signed(30), _proof))
    assert (result.held_size, result.failure, sent) == (30, None, [0, 10])


def test_a_witness_error_is_reported_without_its_body() -> None:
    def witness(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="a stack trace naming 9434765919")

    sender = WitnessSender((WITNESS,), transport=httpx.MockTransport(witness))
    (result,) = asyncio.run(sender.push(_signed(10), _proof))
    assert result.failure == "the witness answered HTTP 500"


def test_a_file_witness_is_appended_only_with_checkpoints_that_extend_it(tmp_path: Path) -> None:
    path = tmp_path / "witness.ndjson"
    sender = WitnessSender((FileWitness("volume", path),))
    first = _signed(10)
    asyncio.run(sender.push(first, _proof))
    second = _signed(20, first)
    asyncio.run(WitnessSender((FileWitness("volume", path),)).push(second, _proof))
    assert newest_in_file(path) == second
    assert len(path.read_bytes().splitlines()) == 2

    # Another tree of size 30 (a rewritten log): refused, and the file left as it was.
    other = sign_checkpoint(
        Checkpoint(ORIGIN, 30, bytes(32), T0 + timedelta(minutes=1)), KEY, ORIGIN
    )
    (result,) = asyncio.run(WitnessSender((FileWitness("volume", path),)).push(other, _proof))
    assert result.failure is not None
    assert "does not extend the checkpoint of size 20" in result.failure
    assert newest_in_file(path) == second
