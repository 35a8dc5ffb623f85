"""FHIR operations for handovers end to end, on both databases: $process-message for
FHIR-native senders (a BaRS message in, a response message out, the same checks as the
dataset API) and the $summary a Trust crisis system reads."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from core.handover.dataset_input import parse_dataset
from core.handover.fhir.elements import ResourceIds
from core.handover.fhir.resources import to_fhir
from gateway.platform.database import Database
from gateway.platform.schema import dataset_submissions
from tests.handovers.test_routes import example, push, stored


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


def test_the_summary_reads_the_gaps_from_the_fhir_and_names_from_configuration(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    # North's crisis checklist wants a call-back number, which the example lacks: it is
    # accepted (an emergency), with the gap on its ServiceRequest.
    created = push(client, example("escalation-manager"), "escalations").json()
    communication_id = created["resources"]["Communication"].removeprefix("Communication/")
    path = f"/fhir/Communication/{communication_id}/$summary"
    # The submission's own record of the gaps is gone: what is shown is what the FHIR says.
    with database.write() as connection:
        connection.execute(update(dataset_submissions).values(gaps="[]"))

    as_json = client.get(path, headers=trust_token).json()
    assert as_json["completeness"] == {"complete": False, "missing": ["sender.contact"]}
    assert as_json["overdue"] is False
    # No number in the dataset: the sending organisation's configured one (organisations.yaml).
    assert as_json["call_back"] == {
        "telephone": "01632 960200",
        "contact": "Community Recovery Team North duty worker",
        "source": "configuration",
    }
    # Where it stands on the receiver's ladder, by names.
    assert as_json["ladder"]["level"] == "Manager"
    assert as_json["ladder"]["next_contact"]["telephone"] == "01632 960102"

    page = client.get(path, headers={**trust_token, "Accept": "text/html"}).text
    assert "Incomplete escalation — missing:" in page
    assert "<li>call-back number</li>" in page
    assert '<p class="callback">Call back: <a href="tel:01632960200">01632 960200</a></p>' in page
    assert "Example Mental Health NHS Foundation Trust (<bdi>RZZ</bdi>)" in page
    assert "Crisis resolution and home treatment team" in page
    assert "<dt>Locality</dt><dd>North Exampleshire</dd>" in page
    assert "crisis-resolution-home-treatment" not in page
