"""`gateway audit verify --witness`: a store rolled back as a whole (events, later
checkpoints and subtree hashes deleted together) verifies on its own, but not against a
witness that holds a checkpoint it no longer extends. The store is written by a real
`gateway serve`, which also fed the witness (an append-only file) in the background."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.access_log.checkpoint import SignedCheckpoint
from gateway.platform.database import Database
from tests.access_log.witnessing import (
    audit,
    checkpoint_sizes,
    deployment,
    latest_in,
    roll_back,
    wait_for,
)
from tests.servers import refused_from_addresses_of_their_own, running_server

FAST = {
    "GATEWAY_AUDIT_SEQUENCE_INTERVAL_SECONDS": "0.1",
    "GATEWAY_AUDIT_CHECKPOINT_EVERY_SECONDS": "0.2",
    "GATEWAY_AUDIT_WITNESS_INTERVAL_SECONDS": "0.2",
}


def _held(path: Path) -> SignedCheckpoint | None:
    if not path.exists() or not path.read_bytes().strip():
        return None
    last = path.read_bytes().strip().split(b"\n")[-1]
    return SignedCheckpoint.from_json(json.loads(last))


def _witnessed_up_to(database: Database, path: Path, at_least: int) -> int | None:
    """The witness file's newest size once it is the store's newest, and >= at_least."""
    held, newest = _held(path), latest_in(database)
    if held is None or newest is None or held.checkpoint.tree_size < at_least:
        return None
    return held.checkpoint.tree_size if held == newest else None


def _signed_past(database: Database, size: int) -> int | None:
    newest = latest_in(database)
    return newest.checkpoint.tree_size if newest and newest.checkpoint.tree_size > size else None


def test_a_rolled_back_store_fails_against_its_file_witness(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    witness_file = tmp_path / "another-volume" / "audit-checkpoints.ndjson"
    witness_file.parent.mkdir()
    config = deployment(
        tmp_path / "config",
        witnesses=[{"name": "archive-volume", "file": str(witness_file)}],
    )
    env = {"GATEWAY_CONFIG_DIR": str(config)}
    with running_server(database_url, **env, **FAST) as base:
        assert refused_from_addresses_of_their_own(base, 5) == [401] * 5
        first = wait_for(lambda: _witnessed_up_to(database, witness_file, 5), "a witnessed size")
        assert refused_from_addresses_of_their_own(base, 5) == [401] * 5
        wait_for(lambda: _witnessed_up_to(database, witness_file, first + 5), "the next one")
    # The witness file holds a chain of checkpoints, appended, never rewritten.
    lines = witness_file.read_bytes().strip().split(b"\n")
    assert len(lines) >= 2
    assert witness_file.stat().st_mode & 0o077 == 0

    assert audit(database_url, "verify", "--witness", "archive-volume", **env).returncode == 0
    roll_back(database, first)
    assert checkpoint_sizes(database)[-1] == first

    plain = audit(database_url, "verify", **env)
    assert plain.returncode == 0, plain.stderr  # nothing inside the store gives it away
    witnessed = audit(database_url, "verify", "--witness", "archive-volume", **env)
    assert witnessed.returncode == 1
    assert "witness archive-volume FAILED" in witnessed.stderr
    assert "the log was rolled back" in witnessed.stderr
    # The file can be named directly too, as an assessor holding a copy would.
    by_path = audit(database_url, "verify", "--witness", str(witness_file), **env)
    assert by_path.returncode == 1
    assert "rolled back" in by_path.stderr


def test_a_store_rolled_back_and_regrown_fails_against_its_witness(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    """Rolled back, then grown past the witness's size with other events: the sizes
    alone look fine; the consistency proof does not."""
    witness_file = tmp_path / "witness.ndjson"
    config = deployment(tmp_path / "config", witnesses=[{"name": "w", "file": str(witness_file)}])
    env = {"GATEWAY_CONFIG_DIR": str(config)}
    with running_server(database_url, **env, **FAST) as base:
        assert refused_from_addresses_of_their_own(base, 6) == [401] * 6
        held = wait_for(lambda: _witnessed_up_to(database, witness_file, 6), "a witnessed size")
    roll_back(database, 2)
    with running_server(database_url, **env, **FAST) as base:
        assert refused_from_addresses_of_their_own(base, held + 4) == [401] * (held + 4)
        wait_for(lambda: _signed_past(database, held + 2), "the regrown log's checkpoint")
    # The running server refused to append a checkpoint that does not extend the file's.
    assert _held(witness_file) is not None
    assert _held(witness_file).checkpoint.tree_size == held  # type: ignore[union-attr]
    assert audit(database_url, "verify", **env).returncode == 0
    failed = audit(database_url, "verify", "--witness", "w", **env)
    assert failed.returncode == 1
    assert f"does not extend the witness's checkpoint of size {held}" in failed.stderr


# An empty store of its own: what earlier tests in this worker left (another key's
# checkpoints, say) is no part of this test.
@pytest.mark.usefixtures("database")
def test_a_witness_that_cannot_be_read_fails_the_check(database_url: str, tmp_path: Path) -> None:
    config = deployment(tmp_path / "config")
    empty = tmp_path / "empty.ndjson"
    empty.write_text("")
    failed = audit(database_url, "verify", "--witness", str(empty), GATEWAY_CONFIG_DIR=str(config))
    assert failed.returncode == 1
    assert "holds no checkpoint" in failed.stderr
