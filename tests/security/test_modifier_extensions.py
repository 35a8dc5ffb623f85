"""A modifierExtension changes what its element means (it can negate it): the review's
ServiceRequest with one the gateway does not understand was stored and passed on as if it
meant what it says without it. FHIR requires such content to be refused: 422 naming the
element, at any depth and on every way in, nothing stored, the refusal in the log."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.platform.database import Database
from tests.builders import communication, ods_reference, service_request
from tests.handovers.test_messaging_routes import referral_message
from tests.handovers.test_routes import example
from tests.security.refusals import assert_refusal_logged, refused_issue, store_contents
from tests.tokens import PROVIDER, THIRD_PROVIDER

FHIR = {"Content-Type": "application/fhir+json"}
# "This referral is not requested": what a receiver that ignored it would get backwards.
NEGATION = {
    "url": "https://axx.example/fhir/StructureDefinition/not-requested",
    "valueBoolean": True,
}

PLACES: dict[str, tuple[dict[str, Any], str]] = {
    "on-the-resource": (
        service_request(requester=ods_reference("AXX"), modifierExtension=[NEGATION]),
        "ServiceRequest.modifierExtension[0]",
    ),
    "in-a-backbone-element": (
        communication(
            recipient="Organization/rzz",
            sender=ods_reference("AXX"),
            payload=[{"contentString": "Settled", "modifierExtension": [NEGATION]}],
        ),
        "Communication.payload[0].modifierExtension[0]",
    ),
}


@pytest.mark.parametrize(("resource", "expression"), PLACES.values(), ids=PLACES.keys())
def test_an_unknown_modifier_extension_is_refused_naming_it(
    anonymous: TestClient,
    database: Database,
    third_token: dict[str, str],
    third_ig_token: dict[str, str],
    resource: dict[str, Any],
    expression: str,
) -> None:
    before = store_contents(database)

    response = anonymous.post(
        f"/fhir/{resource['resourceType']}", json=resource, headers={**FHIR, **third_token}
    )

    issue = refused_issue(response, 422, expression)
    assert issue["code"] == "not-supported"
    assert "axx.example" not in issue["diagnostics"]
    assert store_contents(database) == before
    assert_refusal_logged(anonymous, third_ig_token, "create", THIRD_PROVIDER, "modifierExtension")


def test_a_referral_message_cannot_carry_one_in_its_entries(
    client: TestClient, database: Database, ig_token: dict[str, str]
) -> None:
    message = referral_message(example("handover-crisis"))
    request = message["entry"][1]["resource"]
    assert request["resourceType"] == "ServiceRequest"
    request["modifierExtension"] = [NEGATION]
    before = store_contents(database)

    response = client.post("/fhir/$process-message", json=message, headers=FHIR)

    refused_issue(response, 422, "Bundle.entry[1].resource.modifierExtension[0]")
    assert store_contents(database) == before
    assert_refusal_logged(client, ig_token, "process-message", PROVIDER, "modifierExtension")


def test_an_ordinary_extension_is_still_accepted(
    anonymous: TestClient, third_token: dict[str, str]
) -> None:
    plain = {**NEGATION, "url": "https://axx.example/fhir/StructureDefinition/note"}
    referral = service_request(requester=ods_reference("AXX"), extension=[plain])

    created = anonymous.post("/fhir/ServiceRequest", json=referral, headers={**FHIR, **third_token})

    assert created.status_code == 201, created.text
