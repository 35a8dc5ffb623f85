"""A person with no NHS number yet: a crisis does not wait for a trace.

The provider names them by its own local identifier, in a system registered for it in
organisations.yaml, with the NHS number verification status saying why there is no
number. The handover is accepted, shared and served back like any other; the person's
consent and access history follow that identifier. Any other way of naming them, or
another organisation's system, is refused naming the field, and nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from core.handover.dataset_input import parse_dataset
from gateway.platform.database import Database
from tests.handovers.test_routes import example, push, stored
from tests.sharing.test_enforcement import consent
from tests.tokens import THIRD_ODS

FHIR = {"Content-Type": "application/fhir+json"}
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
# The local patient identifier system the demo configuration registers for AZZ.
LOCAL_SYSTEM = "https://example-recovery.example.org/Id/client-number"
CLIENT_NUMBER = "C-000417"
LOCAL = {"system": LOCAL_SYSTEM, "value": CLIENT_NUMBER}


def no_nhs_number(status: str = "03", **patient: Any) -> dict[str, Any]:
    """The crisis example about a person known to the provider by its client number only,
    and urgent (not an emergency, so no checklist leniency helps it through)."""
    body = example("handover-crisis")
    body["patient"] = {
        "local_identifier": LOCAL,
        "nhs_number_status": status,
        "name": {"given": "Alex", "family": "Example"},
        **patient,
    }
    body["time_sensitivity"]["priority"] = "urgent"
    return body


def _issues(response: Any) -> list[tuple[str, list[str]]]:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return [(issue["code"], issue.get("expression", [])) for issue in outcome["issue"]]


def _people(events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (entity["what"]["identifier"]["system"], entity["what"]["identifier"]["value"])
        for event in events
        for entity in event.get("entity", [])
        if entity.get("what", {}).get("type") == "Patient"
    }


def test_a_crisis_with_no_nhs_number_is_handed_over_by_the_senders_own_number(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    body = no_nhs_number()
    response = push(client, body)

    assert response.status_code == 201, response.text
    created = response.json()
    request = client.get(f"/fhir/ServiceRequest/{created['id']}", headers=trust_token)
    assert request.status_code == 200
    identifier = request.json()["subject"]["identifier"]
    assert (identifier["system"], identifier["value"]) == (LOCAL_SYSTEM, CLIENT_NUMBER)
    # The Trust reads back the dataset as sent, and finds the person by that number.
    served = client.get(f"/api/handovers/{created['id']}", headers=trust_token)
    assert served.status_code == 200, served.text
    assert parse_dataset(served.json()["dataset"]) == parse_dataset(body)
    found = client.get(
        "/fhir/ServiceRequest",
        params={"subject:identifier": f"{LOCAL_SYSTEM}|{CLIENT_NUMBER}"},
        headers=trust_token,
    )
    assert [entry["resource"]["id"] for entry in found.json()["entry"]] == [created["id"]]
    communication = created["resources"]["Communication"]
    page = client.get(f"/fhir/{communication}/$summary?_format=html", headers=trust_token)
    assert page.status_code == 200
    assert CLIENT_NUMBER in page.text
    assert "None yet" in page.text


def test_the_trust_answers_about_the_person_by_the_providers_number(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    """The provider's number names the person in the Trust's answers too: the provider,
    which issued it, is party to each (as the requester of the Task, as the recipient of
    the response), and the gateway's own workflow marks the escalation answered."""
    handover = push(client, no_nhs_number()).json()
    accepted = client.post(
        "/fhir/Task",
        json={
            "resourceType": "Task",
            "status": "accepted",
            "intent": "order",
            "focus": {"reference": f"ServiceRequest/{handover['id']}"},
            "owner": {"identifier": {"system": ODS, "value": "RZZ"}},
        },
        headers={**FHIR, **trust_token},
    )
    assert accepted.status_code == 201, accepted.text
    identifier = accepted.json()["for"]["identifier"]
    assert (identifier["system"], identifier["value"]) == (LOCAL_SYSTEM, CLIENT_NUMBER)

    escalation = example("escalation-manager")
    escalation["patient"] = no_nhs_number()["patient"]
    pushed = push(client, escalation, "escalations")
    assert pushed.status_code == 201, pushed.text
    answered = client.post(
        f"/api/escalations/{pushed.json()['id']}/responses",
        content=json.dumps({"from": "Crisis duty manager", "summary": "Home visit at 16:00."}),
        headers={"Content-Type": "application/json", **trust_token},
    )
    assert answered.status_code == 200, answered.text
    summary = client.get(f"/fhir/{pushed.json()['resources']['Communication']}").json()
    assert summary["status"] == "completed"
    assert summary["subject"]["identifier"]["value"] == CLIENT_NUMBER


def test_the_access_log_and_the_access_report_follow_the_local_identifier(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    created = push(client, no_nhs_number()).json()
    client.get(f"/fhir/ServiceRequest/{created['id']}", headers=trust_token)

    events = client.get(
        "/fhir/AuditEvent",
        params={"patient": f"{LOCAL_SYSTEM}|{CLIENT_NUMBER}", "_count": "100"},
        headers=ig_token,
    )
    assert events.status_code == 200, events.text
    found = [entry["resource"] for entry in events.json().get("entry", [])]
    assert {event["subtype"][0]["code"] for event in found} >= {"read"}
    assert _people(found) == {(LOCAL_SYSTEM, CLIENT_NUMBER)}
    report = client.post(
        "/audit/reports/patient-access",
        data={"patient": f"{LOCAL_SYSTEM}|{CLIENT_NUMBER}", "format": "ndjson"},
        headers=ig_token,
    )
    assert report.status_code == 200, report.text
    reported = [json.loads(line) for line in report.text.splitlines()]
    assert any(
        f"ServiceRequest/{created['id']}" in json.dumps(event)
        for event in reported
        if event["subtype"][0]["code"] == "read"
    )


def test_a_dissent_recorded_against_the_local_identifier_stops_the_next_handover(
    client: TestClient, database: Database
) -> None:
    statement = {**consent(), "patient": {"identifier": LOCAL}}
    assert client.post("/fhir/Consent", json=statement, headers=FHIR).status_code == 201
    before = stored(database)

    response = push(client, no_nhs_number())

    assert response.status_code == 403, response.text
    assert "consent:dissent" in response.json()["issue"][0]["diagnostics"]
    assert stored(database) == before


def test_a_system_not_registered_for_the_sender_is_refused_at_the_field(
    client: TestClient, database: Database, third_token: dict[str, str]
) -> None:
    before = stored(database)
    unregistered = no_nhs_number(
        local_identifier={"system": "https://elsewhere.example.org/Id/x", "value": "X-1"}
    )
    refused = push(client, unregistered)
    assert refused.status_code == 422, refused.text
    assert _issues(refused) == [("business-rule", ["patient.local_identifier.system"])]

    # AZZ's own system is AZZ's: the third organisation cannot name a person by it.
    theirs = no_nhs_number()
    theirs["sender"]["ods"] = THIRD_ODS
    by_third = push(client, theirs, **third_token)
    assert by_third.status_code == 422, by_third.text
    assert _issues(by_third) == [("business-rule", ["patient.local_identifier.system"])]
    assert CLIENT_NUMBER not in by_third.text
    assert stored(database) == before


def test_the_person_is_named_one_way_and_says_why_there_is_no_number(
    client: TestClient, database: Database
) -> None:
    before = stored(database)
    nobody = example("handover-crisis")
    del nobody["patient"]["nhs_number"]
    both = no_nhs_number(nhs_number="9434765919")
    unexplained = no_nhs_number(status="01")  # "present and verified": but there is none
    cases = [
        (nobody, "required", "patient.nhs_number"),
        (both, "value", "patient.nhs_number"),
        (unexplained, "value", "patient.nhs_number_status"),
    ]
    for body, code, field in cases:
        response = push(client, body)
        assert response.status_code in (400, 422), response.text
        assert (code, [field]) in _issues(response)
    assert stored(database) == before
