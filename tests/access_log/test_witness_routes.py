"""A second gateway as the first one's HTTP witness, both real `gateway serve` processes
on loopback: the log's gateway sends each new checkpoint to `POST /audit/witness` in the
background; the witness keeps only checkpoints the log's published key signed that
extend the one it holds, and answers a C2SP cosignature. Then the log's store is rolled
back, and `gateway audit verify --witness` finds it."""

from __future__ import annotations

import base64
import dataclasses
import secrets
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.access_log.checkpoint import Link, SignedCheckpoint, sign_checkpoint
from gateway.access_log.witness_protocol import (
    AddCheckpoint,
    cosignature_key_id,
    cosignature_message,
    parse_note,
)
from gateway.platform.database import Database
from tests.access_log.witnessing import (
    audit,
    deployment,
    latest_in,
    new_key,
    public_pem,
    roll_back,
    sha256_hex,
    wait_for,
)
from tests.servers import (
    gateway_forked,
    refused_from_addresses_of_their_own,
    running_server,
)

LOG_ORIGIN = "mh-gateway/demo/audit"
WITNESS_NAME = "mh-gateway/trust/audit"
FAST = {
    "GATEWAY_AUDIT_SEQUENCE_INTERVAL_SECONDS": "0.1",
    "GATEWAY_AUDIT_CHECKPOINT_EVERY_SECONDS": "0.2",
    "GATEWAY_AUDIT_WITNESS_INTERVAL_SECONDS": "0.2",
}


def _upgrade(database_url: str) -> None:
    upgraded = gateway_forked(database_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr


def _held(witness: str, token: str) -> SignedCheckpoint | None:
    answer = httpx.get(
        f"{witness}/audit/witness",
        params={"origin": LOG_ORIGIN},
        headers={"Authorization": f"Bearer {token}"},
    )
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    return parse_note(answer.text)


def _post(witness: str, token: str, request: AddCheckpoint) -> httpx.Response:
    return httpx.post(
        f"{witness}/audit/witness",
        content=request.body(),
        headers={"Authorization": f"Bearer {token}"},
    )


def _forged_successor(held: SignedCheckpoint, key: Ed25519PrivateKey) -> SignedCheckpoint:
    """A bigger checkpoint of the log, validly signed, whose tree is another one."""
    checkpoint = held.checkpoint
    return sign_checkpoint(
        dataclasses.replace(
            checkpoint,
            tree_size=checkpoint.tree_size + 3,
            root_hash=bytes(32),
            timestamp=checkpoint.timestamp + timedelta(seconds=1),
            previous=Link.to(held),
        ),
        key,
        LOG_ORIGIN,
    )


@pytest.fixture
def parties(tmp_path: Path) -> dict[str, object]:
    log_key = new_key(tmp_path / "log-audit-key.pem")
    token = secrets.token_urlsafe(32)
    (tmp_path / "witness-token").write_text(token + "\n")
    witness_config = deployment(
        tmp_path / "trust-config",
        name="trust",
        witnessing=[
            {
                "origin": LOG_ORIGIN,
                "public_key_file": str(public_pem(log_key, tmp_path / "log-public.pem")),
                "token_sha256": sha256_hex(token),
            }
        ],
    )
    witness_db = f"sqlite:///{tmp_path / 'trust' / 'gateway.db'}"
    _upgrade(witness_db)
    return {
        "log_key": log_key,
        "token": token,
        "witness_db": witness_db,
        "witness_env": {
            "GATEWAY_CONFIG_DIR": str(witness_config),
            "GATEWAY_AUDIT_SIGNING_KEY": str(tmp_path / "trust-audit-key.pem"),
        },
        "tmp": tmp_path,
    }


def test_a_second_gateway_witnesses_the_log_and_catches_its_rollback(
    database: Database, database_url: str, parties: dict[str, object]
) -> None:
    tmp = parties["tmp"]
    token = parties["token"]
    log_key = parties["log_key"]
    assert isinstance(tmp, Path)
    assert isinstance(token, str)
    assert isinstance(log_key, Ed25519PrivateKey)
    witness_env = parties["witness_env"]
    assert isinstance(witness_env, dict)
    with running_server(str(parties["witness_db"]), **witness_env) as witness:
        log_config = deployment(
            tmp / "provider-config",
            witnesses=[
                {
                    "name": "trust-gateway",
                    "url": f"{witness}/audit/witness",
                    "token_file": str(tmp / "witness-token"),
                }
            ],
        )
        log_env = {
            "GATEWAY_CONFIG_DIR": str(log_config),
            "GATEWAY_AUDIT_SIGNING_KEY": str(tmp / "log-audit-key.pem"),
        }
        with running_server(database_url, **log_env, **FAST) as log:
            assert refused_from_addresses_of_their_own(log, 5) == [401] * 5
            first = wait_for(
                lambda: _caught_up(database, witness, token, 5), "the witness"
            ).checkpoint.tree_size
            assert refused_from_addresses_of_their_own(log, 5) == [401] * 5
            held = wait_for(lambda: _caught_up(database, witness, token, first + 5), "again")
        # The log's gateway sent a chain: the witness now holds what the log holds.
        assert held.checkpoint.previous is not None

        # Refused: no token, a wrong token, a checkpoint another key signed, a stale old
        # size (409 naming the size held), and a validly signed checkpoint of another
        # tree (its consistency proof cannot verify). The held checkpoint stays.
        size = held.checkpoint.tree_size
        honest = AddCheckpoint(size, [], held)
        assert httpx.post(f"{witness}/audit/witness", content=honest.body()).status_code == 401
        assert _post(witness, "not-the-token", honest).status_code == 401
        other_key = Ed25519PrivateKey.generate()
        forged = AddCheckpoint(size, [], sign_checkpoint(held.checkpoint, other_key, LOG_ORIGIN))
        assert _post(witness, token, forged).status_code == 403
        stale = _post(witness, token, AddCheckpoint(1, [], held))
        assert (stale.status_code, stale.headers["Tlog-Size"]) == (409, str(size))
        successor = _forged_successor(held, log_key)
        inconsistent = _post(witness, token, AddCheckpoint(size, [bytes(32)] * 3, successor))
        assert inconsistent.status_code == 422
        assert "application/fhir+json" in inconsistent.headers["content-type"]
        assert _held(witness, token) == held

        # The honest repeat is cosigned by the witness's own key (C2SP cosignature/v1).
        again = _post(witness, token, honest)
        assert again.status_code == 200
        _assert_cosigned(again.text, held, tmp / "trust-audit-key.pem")

        # Roll the log back behind the witness's back.
        roll_back(database, first)
        assert audit(database_url, "verify", **log_env).returncode == 0
        failed = audit(database_url, "verify", "--witness", "trust-gateway", **log_env)
        assert failed.returncode == 1
        assert "witness trust-gateway FAILED" in failed.stderr
        assert f"holds a checkpoint of size {size}" in failed.stderr
        every = audit(database_url, "verify", "--witness", "all", **log_env)
        assert every.returncode == 1


def _caught_up(
    database: Database, witness: str, token: str, at_least: int
) -> SignedCheckpoint | None:
    held, newest = _held(witness, token), latest_in(database)
    if held is None or newest is None or held.checkpoint.tree_size < at_least:
        return None
    return held if held == newest else None


def _assert_cosigned(line: str, held: SignedCheckpoint, key_path: Path) -> None:
    private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    public = private.public_key()
    dash, name, signature = line.strip().split(" ")
    assert (dash, name) == ("\u2014", WITNESS_NAME)
    raw = base64.b64decode(signature)
    assert raw[:4] == cosignature_key_id(WITNESS_NAME, public)
    timestamp = int.from_bytes(raw[4:12], "big")
    public.verify(raw[12:], cosignature_message(held.checkpoint, timestamp))
