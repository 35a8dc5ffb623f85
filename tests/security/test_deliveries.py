"""GET /api/deliveries needs a scope (system/ServiceRequest.s: a delivery carries a
ServiceRequest), lists only the caller's organisation's deliveries unless the caller is
an operator, and every call, refused or not, is an AuditEvent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.platform.settings import Settings
from tests.access_log.reading import event_references, event_rules
from tests.exchange.support import gateway, handover, push, push_config
from tests.tokens import (
    IG_LEAD,
    PROVIDER,
    THIRD_PROVIDER,
    access_token,
    assertion,
    bearer,
    private_key,
    token_form,
)

OPERATOR = "test-operator"
SCOPE_NOT_GRANTED = "access:scope-not-granted"


@pytest.fixture
def client(settings: Settings, config_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    """The demo provider's EPR, with the Trust taking pushes, and an operator client (its
    key is the third provider's public key, registered again under its own id)."""
    config = push_config(config_dir, tmp_path / "config", "https://crisis.rzz.test/fhir")
    with (config / "clients.yaml").open("a", encoding="utf-8") as clients:
        clients.write(
            f"  - client_id: {OPERATOR}\n"
            "    organisation: RZZ\n"
            "    role: operator\n"
            f"    jwks_file: keys/{THIRD_PROVIDER}.jwks.json\n"
            "    scopes: [system/ServiceRequest.s]\n"
        )
    with gateway(settings, config) as started:
        yield started


def _token(client: TestClient, client_id: str, scope: str) -> dict[str, str]:
    return bearer(access_token(client, client_id, scope))


def _operator(client: TestClient) -> dict[str, str]:
    signed = assertion(
        OPERATOR,
        key=private_key(THIRD_PROVIDER),
        algorithm="ES384",
        headers={"kid": f"{THIRD_PROVIDER}-2026-11"},
    )
    response = client.post("/oauth2/token", data=token_form(signed, "system/ServiceRequest.s"))
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def _events(client: TestClient, **params: str) -> list[dict[str, Any]]:
    ig = _token(client, IG_LEAD, "system/AuditEvent.rs")
    response = client.get(
        "/fhir/AuditEvent", params={"subtype": "search-type", "_count": "100", **params}, headers=ig
    )
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def test_listing_deliveries_needs_the_scope_and_the_refusal_is_logged(
    client: TestClient,
) -> None:
    push(client, handover("DEL-SCOPE-1"))
    without = _token(client, PROVIDER, "system/Communication.rs")

    response = client.get("/api/deliveries", headers=without)

    assert response.status_code == 403, response.text
    assert response.json()["issue"][0]["code"] == "forbidden"
    assert "system/ServiceRequest.s" in response.json()["issue"][0]["diagnostics"]
    assert "insufficient_scope" in response.headers["WWW-Authenticate"]
    (refused,) = _events(client, agent=PROVIDER, outcome="4")
    assert SCOPE_NOT_GRANTED in event_rules(refused)
    assert event_references(refused) == []


def test_every_listing_is_an_audit_event_naming_what_it_showed(client: TestClient) -> None:
    service_request_id = push(client, handover("DEL-LOG-1"))

    listed = client.get("/api/deliveries", params={"state": "queued"})

    assert listed.status_code == 200, listed.text
    assert len(listed.json()["deliveries"]) == 1
    (event,) = _events(client, agent=PROVIDER, outcome="0")
    assert f"ServiceRequest/{service_request_id}" in event_references(event)
    people = [e.get("what", {}).get("identifier", {}).get("value") for e in event["entity"]]
    assert "9434765919" in people


def test_another_organisation_sees_none_of_the_providers_deliveries(client: TestClient) -> None:
    push(client, handover("DEL-THIRD-1"))
    third = _token(client, THIRD_PROVIDER, "system/*.cruds")

    listed = client.get("/api/deliveries", headers=third)

    assert listed.status_code == 200, listed.text
    assert listed.json()["deliveries"] == []
    (event,) = _events(client, agent=THIRD_PROVIDER, outcome="0")
    assert event_references(event) == []


def test_an_operator_sees_every_organisations_deliveries(client: TestClient) -> None:
    service_request_id = push(client, handover("DEL-OPERATOR-1"))

    listed = client.get("/api/deliveries", headers=_operator(client))

    assert listed.status_code == 200, listed.text
    (delivery,) = listed.json()["deliveries"]
    assert delivery["service_request"] == f"ServiceRequest/{service_request_id}"
    (event,) = _events(client, agent=OPERATOR, outcome="0")
    assert f"ServiceRequest/{service_request_id}" in event_references(event)
