"""The checkpoint-signing key away from the data: from a file descriptor, refused in prod
beside an SQLite store, and rotated (a new key signs from a given checkpoint on, the old
public key stays in the export, verify accepts the history and nothing outside it).
Against stores written by real `gateway serve` processes, on both databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.access_log.checkpoint import key_id, load_public_keys_pem
from gateway.access_log.keys import KeyHistory, RetiredKey, load_audit_signing_key
from gateway.platform.database import Database
from gateway.platform.errors import ConfigurationError
from tests.access_log.witnessing import (
    audit,
    checkpoint_sizes,
    deployment,
    latest_in,
    new_key,
    public_pem,
    wait_for,
)
from tests.conftest import DEMO_CONFIG
from tests.servers import (
    GATEWAY,
    gateway_env,
    gateway_forked,
    refused_from_addresses_of_their_own,
    running_server,
)

ORIGIN = "mh-gateway/demo/audit"
FAST = {
    "GATEWAY_AUDIT_SEQUENCE_INTERVAL_SECONDS": "0.1",
    "GATEWAY_AUDIT_CHECKPOINT_EVERY_SECONDS": "0.2",
}


def _log_some(database: Database, database_url: str, above: int, **env: str) -> int:
    """Five refused requests through a real server, signed into a checkpoint."""
    with running_server(database_url, **env, **FAST) as base:
        assert refused_from_addresses_of_their_own(base, 5) == [401] * 5
        wait_for(lambda: _past(database, above + 5), "a checkpoint")
    assert audit(database_url, "checkpoint", **env).returncode == 0
    return checkpoint_sizes(database)[-1]


def _past(database: Database, size: int) -> int | None:
    newest = latest_in(database)
    return newest.checkpoint.tree_size if newest and newest.checkpoint.tree_size >= size else None


def test_a_rotated_key_signs_on_and_verify_accepts_the_history(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    old_key = new_key(tmp_path / "audit-2026.pem")
    old_env = {"GATEWAY_AUDIT_SIGNING_KEY": str(tmp_path / "audit-2026.pem")}
    old_env["GATEWAY_CONFIG_DIR"] = str(deployment(tmp_path / "before"))
    boundary = _log_some(database, database_url, 0, **old_env)
    earlier = checkpoint_sizes(database)[-2]

    def rotated(directory: str, until: int) -> dict[str, str]:
        config = deployment(
            tmp_path / directory,
            retired_signing_keys=[
                {
                    "public_key_file": str(public_pem(old_key, tmp_path / "audit-2026.pub")),
                    "until_tree_size": until,
                }
            ],
        )
        return {
            "GATEWAY_AUDIT_SIGNING_KEY": str(tmp_path / "audit-2027.pem"),
            "GATEWAY_CONFIG_DIR": str(config),
        }

    new_key(tmp_path / "audit-2027.pem")
    new_env = rotated("after", boundary)
    _log_some(database, database_url, boundary, **new_env)
    newest = latest_in(database)
    assert newest is not None
    assert newest.key_id != key_id(ORIGIN, old_key.public_key())

    verified = audit(database_url, "verify", **new_env)
    assert verified.returncode == 0, verified.stderr
    # Without the history, the old key's checkpoints are unknown.
    alone = audit(database_url, "verify", **new_env | {"GATEWAY_CONFIG_DIR": str(DEMO_CONFIG)})
    assert alone.returncode == 1
    assert "not validly signed by a known key" in alone.stderr

    # The export carries both public keys, and which sizes each signed.
    export = tmp_path / "export"
    assert audit(database_url, "export", str(export), **new_env).returncode == 0
    assert len(load_public_keys_pem((export / "public-keys.pem").read_bytes())) == 2
    standalone = subprocess.run(
        [sys.executable, "-I", "-m", "gateway.access_log.verify", str(export)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert standalone.returncode == 0, standalone.stdout + standalone.stderr

    # A history that says the old key stopped earlier: its last checkpoint is refused.
    wrong = audit(database_url, "verify", **rotated("wrong", earlier))
    assert wrong.returncode == 1
    assert f"checkpoint of size {boundary} is signed by key" in wrong.stderr
    assert "not the signing key at that size" in wrong.stderr


def test_the_key_can_be_given_as_a_file_descriptor(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    key = new_key(tmp_path / "key.pem")
    never = tmp_path / "var" / "keys" / "audit-signing-key.pem"
    descriptor = os.open(tmp_path / "key.pem", os.O_RDONLY)
    try:
        ran = subprocess.run(
            [*GATEWAY, "audit", "checkpoint"],
            env=gateway_env(
                database_url,
                GATEWAY_AUDIT_SIGNING_KEY=str(never),
                GATEWAY_AUDIT_SIGNING_KEY_FD=str(descriptor),
            ),
            pass_fds=(descriptor,),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(descriptor)
    assert ran.returncode == 0, ran.stderr
    newest = latest_in(database)
    assert newest is not None
    assert newest.key_id == key_id(ORIGIN, key.public_key())
    assert not never.exists()  # dev generates a key only when none is given


def test_a_closed_descriptor_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GATEWAY_AUDIT_SIGNING_KEY_FD=999"):
        load_audit_signing_key(
            tmp_path / "k.pem", name=ORIGIN, generate_if_missing=True, descriptor=999
        )


def _production_config(directory: Path) -> Path:
    """A deployment of our own (not the demo), with no clients: nothing else to refuse."""
    shutil.copytree(DEMO_CONFIG, directory, ignore=shutil.ignore_patterns("clients.yaml", "keys"))
    (directory / "deployment.yaml").write_text("name: north\ndemo: false\n")
    return directory


def _serve_in_prod(tmp_path: Path, key: Path) -> subprocess.CompletedProcess[str]:
    return gateway_forked(
        f"sqlite:///{tmp_path / 'var' / 'gateway.db'}",
        "serve",
        "--port",
        "1",
        timeout=60,
        GATEWAY_ENV="prod",
        GATEWAY_CONFIG_DIR=str(_production_config(tmp_path / f"config-{key.parent.name}")),
        GATEWAY_PUBLIC_BASE_URL="https://gateway.example.nhs.uk",
        GATEWAY_AUDIT_SIGNING_KEY=str(key),
    )


def test_prod_refuses_a_signing_key_beside_the_sqlite_store(tmp_path: Path) -> None:
    beside = tmp_path / "var" / "keys" / "audit-signing-key.pem"
    beside.parent.mkdir(parents=True)
    new_key(beside)
    refused = _serve_in_prod(tmp_path, beside)
    assert refused.returncode == 2
    assert "GATEWAY_AUDIT_SIGNING_KEY is inside" in refused.stderr
    assert "the SQLite store's directory" in refused.stderr

    elsewhere = tmp_path / "secrets" / "audit-signing-key.pem"
    elsewhere.parent.mkdir()
    new_key(elsewhere)
    assert "GATEWAY_AUDIT_SIGNING_KEY is inside" not in _serve_in_prod(tmp_path, elsewhere).stderr


def test_a_retired_key_listed_as_current_stops_the_start(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    key = new_key(tmp_path / "k.pem")
    history = KeyHistory.of(
        load_audit_signing_key(tmp_path / "k.pem", name=ORIGIN, generate_if_missing=False),
        [RetiredKey(key.public_key(), 10)],
    )
    assert len(history.public_keys) == 1  # the app refuses this at start (build_runtime)
    config = deployment(
        tmp_path / "config",
        retired_signing_keys=[
            {"public_key_file": str(public_pem(key, tmp_path / "k.pub")), "until_tree_size": 10}
        ],
    )
    ran = audit(
        database_url,
        "verify",
        GATEWAY_CONFIG_DIR=str(config),
        GATEWAY_AUDIT_SIGNING_KEY=str(tmp_path / "k.pem"),
    )
    assert ran.returncode == 2
    assert "retired_signing_keys" in ran.stderr
