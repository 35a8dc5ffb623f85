"""The dataset API end to end, on both databases: a handover or escalation pushed as JSON
is checked, stored as FHIR, deduplicated, served back as the same dataset, answered, and
summarised; bad input is refused with an OperationOutcome and nothing stored."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.store.database import Database
from gateway.store.schema import audit_events, dataset_submissions, resources
from mappings.dataset_fhir.elements import ResourceIds
from mappings.dataset_fhir.resources import to_fhir
from mappings.dataset_input import parse_dataset

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
JSON = {"Content-Type": "application/json"}


def example(name: str, *, respond_in: timedelta = timedelta(hours=2)) -> dict[str, Any]:
    """A spec example, due `respond_in` from now (the examples' own dates have passed)."""
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    due = datetime.now(UTC) + respond_in
    body["time_sensitivity"]["respond_by"] = due.isoformat(timespec="seconds")
    return body


def stored(database: Database) -> tuple[int, int]:
    """Resources (besides the directory's Organizations) and dataset submissions."""
    with database.read() as connection:
        count = connection.execute(
            select(func.count())
            .select_from(resources)
            .where(resources.c.resource_type != "Organization")
        ).scalar_one()
        taken = connection.execute(
            select(func.count()).select_from(dataset_submissions)
        ).scalar_one()
    return count, taken


def push(client: TestClient, body: dict[str, Any], path: str = "handovers", **headers: str) -> Any:
    return client.post(f"/api/{path}", content=json.dumps(body), headers={**JSON, **headers})


def test_a_handover_is_stored_as_fhir_and_served_back_as_the_same_dataset(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    body = example("handover-crisis")
    response = push(client, body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["kind"] == "handover"
    assert response.headers["Location"].endswith(f"/api/handovers/{created['id']}")
    refs = created["resources"]
    assert refs["ServiceRequest"] == f"ServiceRequest/{created['id']}"
    assert len(refs["Flag"]) == 2
    # Each resource is a real FHIR resource the provider and the Trust can read.
    for reference in [refs["ServiceRequest"], *refs["Flag"], refs["Communication"]]:
        assert client.get(f"/fhir/{reference}").status_code == 200
        assert client.get(f"/fhir/{reference}", headers=trust_token).status_code == 200
    request = client.get(f"/fhir/{refs['ServiceRequest']}").json()
    assert request["priority"] == "asap"
    assert request["performer"][0]["identifier"]["value"] == "RZZ"

    served = client.get(f"/api/handovers/{created['id']}", headers=trust_token)
    assert served.status_code == 200, served.text
    assert parse_dataset(served.json()["dataset"]) == parse_dataset(body)
    # Served under its kind only.
    assert client.get(f"/api/escalations/{created['id']}").status_code == 404


def test_checklist_warnings_accept_the_handover_as_incomplete(client: TestClient) -> None:
    body = example("handover-crisis")
    del body["what_has_changed"], body["actions_taken"]
    response = push(client, body)
    assert response.status_code == 201, response.text
    completeness = response.json()["completeness"]
    assert completeness["complete"] is False
    assert {w["field"] for w in completeness["warnings"]} == {"what_has_changed", "actions_taken"}
    request = client.get(f"/fhir/{response.json()['resources']['ServiceRequest']}").json()
    assert any(tag["code"] == "incomplete" for tag in request["meta"]["tag"])


def test_checklist_errors_list_every_gap_at_once_and_store_nothing(
    client: TestClient, database: Database
) -> None:
    body = example("handover-crisis")
    body["time_sensitivity"]["priority"] = "urgent"
    del body["current_presentation"], body["key_risks"], body["request"]
    response = push(client, body)
    assert response.status_code == 422, response.text
    expressions = {issue["expression"][0] for issue in response.json()["issue"]}
    assert {"current_presentation", "key_risks", "request.summary"} <= expressions
    assert stored(database) == (0, 0)


def test_an_emergency_is_never_refused_for_a_missing_clinical_field(client: TestClient) -> None:
    body = example("handover-crisis")
    body["time_sensitivity"]["priority"] = "emergency"
    del body["current_presentation"], body["key_risks"]
    response = push(client, body)
    assert response.status_code == 201, response.text
    fields = {w["field"] for w in response.json()["completeness"]["warnings"]}
    assert {"current_presentation", "key_risks"} <= fields


def test_a_repeated_push_is_a_duplicate_and_creates_nothing(
    client: TestClient, database: Database
) -> None:
    body = example("handover-crisis")
    first = push(client, body, **{"X-Request-ID": "epr-req-1"})
    assert first.status_code == 201
    before = stored(database)
    again = push(client, body, **{"X-Request-ID": "epr-req-1"})
    assert again.status_code == 409
    assert again.json()["issue"][0]["code"] == "duplicate"
    assert first.json()["id"] in again.json()["issue"][0]["diagnostics"]
    assert stored(database) == before
    changed = copy.deepcopy(body)
    changed["current_plan"] = "A different plan."
    assert push(client, changed).status_code == 422
    other_id = copy.deepcopy(changed)
    other_id["external_id"] = "EPR-2026-999999"
    reused = push(client, other_id, **{"X-Request-ID": "epr-req-1"})
    assert reused.status_code == 422
    assert reused.json()["issue"][0]["expression"] == ["X-Request-ID"]
    assert stored(database) == before


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        (lambda b: b["patient"].pop("nhs_number"), 400, "patient.nhs_number"),
        (lambda b: b["patient"].update(nhs_number="9434765918"), 400, "patient.nhs_number"),
        (lambda b: b.update(pathway="walk-in"), 400, "pathway"),
        (lambda b: b["receiver"].update(ods="RQQ"), 422, "receiver.ods"),
        (lambda b: b["sender"].update(ods="RZZ"), 403, "sender.ods"),
        (lambda b: b.update(current_plan="x" * 4001), 422, "current_plan"),
        (lambda b: b.update(curent_plan="typo"), 400, None),
        (lambda b: b.update(locality="atlantis"), 422, "locality"),
        (
            lambda b: b["time_sensitivity"].update(respond_by="2020-01-01T00:00:00Z"),
            422,
            "time_sensitivity.respond_by",
        ),
        (lambda b: b.update(resourceType="ServiceRequest"), 400, "resourceType"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient, database: Database, change: Any, status: int, expression: str | None
) -> None:
    body = example("handover-crisis")
    change(body)
    response = push(client, body)
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    if expression is not None:
        assert [expression] in [issue.get("expression") for issue in outcome["issue"]]
    # Nothing sent is repeated back.
    assert "9434765918" not in response.text
    assert "atlantis" not in response.text
    assert stored(database) == (0, 0)


def test_an_escalation_is_answered_and_the_response_is_a_stored_fact(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    response = push(client, example("escalation-manager"), "escalations")
    assert response.status_code == 201, response.text
    created = response.json()
    communication = client.get(f"/fhir/{created['resources']['Communication']}").json()
    assert communication["status"] == "in-progress"

    answer = {
        "received_at": "2026-11-30T14:40:00Z",
        "from": "Crisis duty manager",
        "summary": "Home visit at 16:00.",
    }
    recorded = client.post(
        f"/api/escalations/{created['id']}/responses",
        content=json.dumps(answer),
        headers={**JSON, **trust_token},
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["dataset"]["escalation"]["response"] == answer
    communication = client.get(f"/fhir/{created['resources']['Communication']}").json()
    assert communication["status"] == "completed"
    assert communication["meta"]["versionId"] == "2"


def test_the_summary_is_the_dataset_as_json_or_a_page_for_a_clinician(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    created = push(client, example("escalation-manager"), "escalations").json()
    communication_id = created["resources"]["Communication"].removeprefix("Communication/")
    as_json = client.get(f"/fhir/Communication/{communication_id}/$summary", headers=trust_token)
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["dataset"]["escalation"]["level"] == "manager"
    page = client.get(
        f"/fhir/Communication/{communication_id}/$summary",
        headers={**trust_token, "Accept": "text/html"},
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "Respond by" in page.text
    assert page.text.index("Key risks") < page.text.index("Current presentation")


def test_each_push_is_in_the_access_log_as_a_handover_push(
    client: TestClient, database: Database
) -> None:
    assert push(client, example("handover-crisis")).status_code == 201
    with database.read() as connection:
        subtypes = connection.execute(select(audit_events.c.content)).scalars().all()
    assert any(b'"handover-push"' in content for content in subtypes)


def referral_message(body: dict[str, Any], *, destination: str = "RZZ") -> dict[str, Any]:
    """A BaRS referral message as a FHIR-native EPR would send it: the dataset's resources
    under the sender's own ids, referred to by urn:uuid fullUrls."""
    dataset = parse_dataset(body)
    ids = ResourceIds(
        service_request=str(uuid.uuid4()),
        communication=str(uuid.uuid4()),
        provenance=str(uuid.uuid4()),
        flags=tuple(str(uuid.uuid4()) for _ in dataset.key_risks),
    )
    made = to_fhir(dataset, ids, received_at=datetime.now(UTC), dataset_sha256="0" * 64)
    header_id = str(uuid.uuid4())
    header = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "eventCoding": {
            "system": "https://fhir.nhs.uk/CodeSystem/message-events-bars",
            "code": "servicerequest-request",
        },
        "destination": [
            {
                "endpoint": "https://gateway.example/fhir",
                "receiver": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                        "value": destination,
                    }
                },
            }
        ],
        "source": {"endpoint": "https://epr.example/fhir"},
        "focus": [{"reference": f"ServiceRequest/{ids.service_request}"}],
    }
    resources = [header, made.service_request, *made.flags, made.communication]
    return {
        "resourceType": "Bundle",
        "type": "message",
        "timestamp": datetime.now(UTC).isoformat(),
        "entry": [
            {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
            for resource in resources
        ],
    }


def test_a_fhir_native_sender_posts_a_referral_message_and_gets_a_response_message(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    body = example("handover-crisis")
    message = referral_message(body)
    response = client.post(
        "/fhir/$process-message",
        content=json.dumps(message),
        headers={"Content-Type": "application/fhir+json", "X-Request-ID": "msg-1"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "message"
    header = answer["entry"][0]["resource"]
    assert header["eventCoding"]["code"] == "servicerequest-response"
    assert header["response"] == {"identifier": message["entry"][0]["resource"]["id"], "code": "ok"}
    request_ref = header["focus"][0]["reference"]
    # Stored under the gateway's ids, and served as the same dataset as if sent as JSON.
    served = client.get(f"/api/handovers/{request_ref.removeprefix('ServiceRequest/')}")
    assert parse_dataset(served.json()["dataset"]) == parse_dataset(body)
    # The same message again is a duplicate.
    before = stored(database)
    again = client.post(
        "/fhir/$process-message",
        content=json.dumps(message),
        headers={"Content-Type": "application/fhir+json", "X-Request-ID": "msg-1"},
    )
    assert again.status_code == 409
    assert again.json()["issue"][0]["code"] == "duplicate"
    assert stored(database) == before


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (lambda m: m.update(type="transaction"), "Bundle.type"),
        (lambda m: m["entry"].reverse(), "Bundle.entry[0]"),
        (
            lambda m: m["entry"][0]["resource"]["eventCoding"].update(code="booking-request"),
            "MessageHeader.eventCoding",
        ),
        (lambda m: m["entry"][0]["resource"].update(focus=[]), "MessageHeader.focus"),
        (lambda m: m["entry"].pop(), "Bundle.entry"),
    ],
)
def test_a_malformed_message_is_refused_naming_the_element(
    client: TestClient, database: Database, change: Any, expression: str
) -> None:
    message = referral_message(example("handover-crisis"))
    change(message)
    response = client.post(
        "/fhir/$process-message",
        content=json.dumps(message),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["expression"] == [expression]
    assert stored(database) == (0, 0)


def test_a_message_for_another_receiver_than_its_request_names_is_refused(
    client: TestClient, database: Database
) -> None:
    message = referral_message(example("handover-crisis"), destination="R1A")
    response = client.post(
        "/fhir/$process-message",
        content=json.dumps(message),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["expression"] == ["MessageHeader.destination.receiver"]
    assert stored(database) == (0, 0)
