"""The pull contract for Trust crisis systems, on both databases: one search returns the
open escalations addressed to the Trust since the last poll, with their requests and risk
flags, newest first, and nothing of anyone else's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.handovers.test_routes import example, push

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def poll(client: TestClient, headers: dict[str, str], since: str) -> dict[str, Any]:
    response = client.get(
        "/fhir/Communication",
        params=[
            ("recipient:identifier", f"{ODS}|RZZ"),
            ("category", "escalation"),
            ("status", "in-progress"),
            ("_lastUpdated", f"gt{since}"),
            ("_include", "Communication:based-on"),
            ("_include:iterate", "ServiceRequest:supporting-info"),
        ],
        headers=headers,
    )
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    return bundle


def test_a_crisis_system_pulls_open_escalations_with_what_it_needs_in_one_call(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    handover = push(client, example("handover-crisis"))
    assert handover.status_code == 201
    first = push(client, example("escalation-manager"), "escalations").json()
    second_body = example("escalation-manager")
    second_body["external_id"] = "EPR-2026-000419"
    second = push(client, second_body, "escalations").json()

    bundle = poll(client, trust_token, since)
    included = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    # Escalations only (not the handover's Communication), newest first.
    assert matched(bundle) == [
        second["resources"]["Communication"],
        first["resources"]["Communication"],
    ]
    kinds = sorted(resource["resourceType"] for resource in included)
    assert kinds == ["Flag", "Flag", "ServiceRequest", "ServiceRequest"]
    # The next poll starts from this bundle's lastUpdated: nothing new, nothing again.
    assert "entry" not in poll(client, trust_token, bundle["meta"]["lastUpdated"]) or not [
        e
        for e in poll(client, trust_token, bundle["meta"]["lastUpdated"])["entry"]
        if e["search"]["mode"] == "match"
    ]

    # Answered escalations leave the open list.
    client.post(
        f"/api/escalations/{first['id']}/responses",
        content=json.dumps({"summary": "Visit arranged."}),
        headers={"Content-Type": "application/json", **trust_token},
    )
    assert matched(poll(client, trust_token, since)) == [second["resources"]["Communication"]]


def matched(bundle: dict[str, Any]) -> list[str]:
    return [
        f"Communication/{entry['resource']['id']}"
        for entry in bundle.get("entry", [])
        if entry["search"]["mode"] == "match"
    ]
