"""Checkpoints and proofs over HTTP: what an IG lead (or a witness holding a checkpoint)
checks with nothing but the RFC 9162 algorithms and the gateway's public key."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from gateway.access_log.checkpoint import SignedCheckpoint, public_key_map, verify_signature
from gateway.access_log.merkle import verify_consistency, verify_inclusion
from tests.builders import service_request

FHIR = {"Content-Type": "application/fhir+json"}


def _checkpoint(client: TestClient, ig: dict[str, str]) -> SignedCheckpoint:
    made = client.post("/audit/checkpoints", headers=ig)
    assert made.status_code == 200, made.text
    return SignedCheckpoint.from_json(made.json())


def _public_key(audit_key_path: Path) -> Any:
    private = serialization.load_pem_private_key(audit_key_path.read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return private.public_key()


def _b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(value) for value in values]


def test_a_checkpoint_is_signed_by_the_gateways_key(
    client: TestClient, ig_token: dict[str, str], audit_key_path: Path
) -> None:
    client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
    signed = _checkpoint(client, ig_token)
    keys = public_key_map(signed.key_name, [_public_key(audit_key_path)])
    assert verify_signature(signed, keys)
    assert signed.checkpoint.origin == "mh-gateway/demo/audit"
    # Any authenticated client may fetch the latest one and keep it as a witness.
    latest = client.get("/audit/checkpoints/latest")
    assert latest.status_code == 200
    assert SignedCheckpoint.from_json(latest.json()).checkpoint.tree_size >= (
        signed.checkpoint.tree_size
    )


def test_an_events_inclusion_and_the_logs_consistency_can_be_proved(
    client: TestClient, ig_token: dict[str, str]
) -> None:
    client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
    first = _checkpoint(client, ig_token)
    for _ in range(5):
        client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
    second = _checkpoint(client, ig_token)
    assert second.checkpoint.tree_size > first.checkpoint.tree_size

    creates = client.get("/fhir/AuditEvent", params={"subtype": "create"}, headers=ig_token)
    event_id = creates.json()["entry"][-1]["resource"]["id"]  # the oldest create
    proof = client.get("/audit/proofs/inclusion", params={"event": event_id}, headers=ig_token)
    assert proof.status_code == 200, proof.text
    body = proof.json()
    assert body["tree_size"] == second.checkpoint.tree_size
    assert verify_inclusion(
        base64.b64decode(body["leaf_hash"]),
        body["leaf_index"],
        body["tree_size"],
        _b64(body["inclusion_path"]),
        second.checkpoint.root_hash,
    )
    at_first = client.get(
        "/audit/proofs/inclusion",
        params={"event": event_id, "tree_size": str(first.checkpoint.tree_size)},
        headers=ig_token,
    )
    assert at_first.status_code == 200
    assert verify_inclusion(
        base64.b64decode(at_first.json()["leaf_hash"]),
        at_first.json()["leaf_index"],
        first.checkpoint.tree_size,
        _b64(at_first.json()["inclusion_path"]),
        first.checkpoint.root_hash,
    )

    consistency = client.get(
        "/audit/proofs/consistency",
        params={"first": first.checkpoint.tree_size, "second": second.checkpoint.tree_size},
        headers=ig_token,
    )
    assert consistency.status_code == 200
    assert verify_consistency(
        first.checkpoint.tree_size,
        second.checkpoint.tree_size,
        first.checkpoint.root_hash,
        second.checkpoint.root_hash,
        _b64(consistency.json()["consistency_path"]),
    )


def test_proof_requests_are_checked(client: TestClient, ig_token: dict[str, str]) -> None:
    _checkpoint(client, ig_token)
    cases = [
        ("/audit/proofs/inclusion", {}, 400),
        ("/audit/proofs/inclusion", {"event": "no-such-event"}, 404),
        ("/audit/proofs/inclusion", {"event": "x", "tree_size": "-1"}, 400),
        ("/audit/proofs/consistency", {"first": "1"}, 400),
        ("/audit/proofs/consistency", {"first": "3", "second": "2"}, 400),
        ("/audit/proofs/consistency", {"first": "1", "second": "999999"}, 404),
    ]
    for path, params, status in cases:
        response = client.get(path, params=params, headers=ig_token)
        assert response.status_code == status, (path, params, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"


def test_proofs_and_on_demand_checkpoints_need_the_ig_scope(client: TestClient) -> None:
    # The provider's token has every clinical scope, but not the log's.
    assert client.post("/audit/checkpoints").status_code == 403
    assert client.get("/audit/proofs/inclusion", params={"event": "x"}).status_code == 403
    assert client.get("/audit/reports/patient-access", params={"patient": "x"}).status_code == 403
    assert client.get("/audit/checkpoints/latest", headers={"Authorization": ""}).status_code == 401
