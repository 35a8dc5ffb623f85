"""A method a URL does not take is refused (405, with an OperationOutcome and Allow) and
logged like every other refusal: the interaction it would have been, the caller when its
token says who it is, the resource it aimed at, and the rule that refused it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.access_log.reading import event_clients, event_references, event_rules
from tests.builders import service_request

FHIR = {"Content-Type": "application/fhir+json"}
METHOD_NOT_ALLOWED = "access:method-not-allowed"


def _refusals(client: TestClient, ig: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get(
        "/fhir/AuditEvent", params={"outcome": "4", "_count": "100", **params}, headers=ig
    )
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def test_a_delete_of_another_organisations_record_is_refused_and_logged(
    client: TestClient, third_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    created = client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR).json()
    path = f"/fhir/ServiceRequest/{created['id']}"

    response = client.delete(path, headers=third_token)

    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == "GET, PUT"
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-supported"
    assert outcome["issue"][0]["diagnostics"] == "DELETE is not allowed at this URL."
    assert client.get(path).json() == created
    (event,) = _refusals(client, ig_token, subtype="delete", agent="test-third-provider")
    assert event["action"] == "D"
    assert event["outcomeDesc"] == "DELETE is not allowed at this URL."
    assert f"ServiceRequest/{created['id']}" in event_references(event)
    assert METHOD_NOT_ALLOWED in event_rules(event)
    assert event_clients(event) == ["test-third-provider"]


def test_a_refused_method_without_a_token_is_logged_too(
    anonymous: TestClient, ig_token: dict[str, str]
) -> None:
    response = anonymous.delete("/fhir/ServiceRequest/abc")

    assert response.status_code == 405
    events = [
        event
        for event in _refusals(anonymous, ig_token, subtype="delete")
        if "ServiceRequest/abc" in event_references(event)
    ]
    (event,) = events
    assert event_clients(event) == []
    assert METHOD_NOT_ALLOWED in event_rules(event)


@pytest.mark.parametrize(
    ("method", "path", "allowed", "subtype"),
    [
        ("PUT", "/api/deliveries", "GET", "update"),
        ("DELETE", "/api/agreements", "GET", "delete"),
        ("PATCH", "/api/handovers/some-id", "GET", "patch"),
        ("DELETE", "/audit/checkpoints/latest", "GET", "delete"),
        ("POST", "/fhir/ServiceRequest/some-id/_history", "GET", "create"),
        ("OPTIONS", "/fhir/ServiceRequest", "GET, POST", "unsupported-method"),
        ("GET", "/oauth2/token", "POST", "read"),
        # The base takes nothing (a POST, a transaction, is refused too).
        ("GET", "/fhir", "", "read"),
    ],
    ids=lambda value: str(value).strip("/").replace("/", "-"),
)
def test_every_route_refuses_a_method_it_does_not_take_in_the_log(
    anonymous: TestClient,
    third_token: dict[str, str],
    ig_token: dict[str, str],
    method: str,
    path: str,
    allowed: str,
    subtype: str,
) -> None:
    response = anonymous.request(method, path, headers=third_token)

    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allowed
    assert response.json()["issue"][0]["code"] == "not-supported"
    (event,) = _refusals(anonymous, ig_token, subtype=subtype, agent="test-third-provider")
    assert METHOD_NOT_ALLOWED in event_rules(event)
    assert event["outcomeDesc"] == response.json()["issue"][0]["diagnostics"]
