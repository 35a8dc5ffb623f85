"""Zero-width and bidi-control characters make one identifier display as another: the
review got a referral stored whose NHS number held a zero-width space (it shows as the
person's number but matches no one's, so their consent and access log miss it) and a
break-glass justification holding a right-to-left override (IG review reads it
reordered). They are refused wherever a value identifies (422 naming the element, 400 for
a header), nothing is stored, the refusal is logged. Free text keeps them, and the
summary page shows each piece of it isolated, so it cannot reorder the page."""

from __future__ import annotations

import base64
import html
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.platform.database import Database
from tests.builders import NHS, ODS, ods_reference, service_request
from tests.handovers.test_routes import example, push
from tests.security.refusals import assert_refusal_logged, refused_issue, store_contents
from tests.tokens import THIRD_PROVIDER

FHIR = {"Content-Type": "application/fhir+json"}
ZERO_WIDTH_SPACE = "\u200b"
RIGHT_TO_LEFT_OVERRIDE = "\u202e"
FIRST_STRONG_ISOLATE = "\u2068"


def _referral(**changes: Any) -> dict[str, Any]:
    """The third organisation's referral to the Trust."""
    return service_request(requester=ods_reference("AXX"), **changes)


FHIR_CASES = {
    "nhs-number": (
        _referral(
            subject={"identifier": {"system": NHS, "value": f"9434765919{ZERO_WIDTH_SPACE}"}}
        ),
        "ServiceRequest.subject.identifier.value",
    ),
    "ods-code": (
        _referral(
            performer=[{"identifier": {"system": ODS, "value": f"R{RIGHT_TO_LEFT_OVERRIDE}ZZ"}}]
        ),
        "ServiceRequest.performer[0].identifier.value",
    ),
    "identifier": (
        _referral(
            identifier=[
                {"system": "https://axx.example/ids", "value": f"REF{FIRST_STRONG_ISOLATE}1"}
            ]
        ),
        "ServiceRequest.identifier[0].value",
    ),
    "identifier-system": (
        _referral(
            identifier=[{"system": f"https://axx.example/{ZERO_WIDTH_SPACE}ids", "value": "1"}]
        ),
        "ServiceRequest.identifier[0].system",
    ),
    "reference": (
        _referral(basedOn=[{"reference": f"ServiceRequest/abc{ZERO_WIDTH_SPACE}"}]),
        "ServiceRequest.basedOn[0].reference",
    ),
    "code": (
        _referral(
            category=[
                {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": f"1234{RIGHT_TO_LEFT_OVERRIDE}5",
                        }
                    ]
                }
            ]
        ),
        "ServiceRequest.category[0].coding[0].code",
    ),
}


@pytest.mark.parametrize(("resource", "expression"), FHIR_CASES.values(), ids=FHIR_CASES.keys())
def test_an_identifier_holding_one_is_refused_naming_it(
    anonymous: TestClient,
    database: Database,
    third_token: dict[str, str],
    third_ig_token: dict[str, str],
    resource: dict[str, Any],
    expression: str,
) -> None:
    before = store_contents(database)

    response = anonymous.post(
        "/fhir/ServiceRequest", json=resource, headers={**FHIR, **third_token}
    )

    issue = refused_issue(response, 422, expression)
    assert issue["code"] == "value"
    assert "zero-width or bidirectional-control" in issue["diagnostics"]
    assert store_contents(database) == before
    assert_refusal_logged(anonymous, third_ig_token, "create", THIRD_PROVIDER, "zero-width")


def _dataset(path: tuple[str, ...], value: str) -> dict[str, Any]:
    body = example("handover-crisis")
    body["sender"]["ods"] = "AXX"
    place = body
    for key in path[:-1]:
        place = place[key]
    place[path[-1]] = value
    return body


DATASET_CASES = {
    "external-id": (("external_id",), f"EPR-2026{ZERO_WIDTH_SPACE}-000417"),
    "nhs-number": (("patient", "nhs_number"), f"{RIGHT_TO_LEFT_OVERRIDE}9434765919"),
    "sender-ods": (("sender", "ods"), f"AXX{ZERO_WIDTH_SPACE}"),
    "receiver-ods": (("receiver", "ods"), f"R{FIRST_STRONG_ISOLATE}ZZ"),
}


@pytest.mark.parametrize(("path", "value"), DATASET_CASES.values(), ids=DATASET_CASES.keys())
def test_a_dataset_identifier_holding_one_is_refused_naming_it(
    anonymous: TestClient,
    database: Database,
    third_token: dict[str, str],
    third_ig_token: dict[str, str],
    path: tuple[str, ...],
    value: str,
) -> None:
    before = store_contents(database)

    response = push(anonymous, _dataset(path, value), **third_token)

    issue = refused_issue(response, 422, ".".join(path))
    assert "zero-width or bidirectional-control" in issue["diagnostics"]
    assert store_contents(database) == before
    assert_refusal_logged(anonymous, third_ig_token, "handover-push", THIRD_PROVIDER, "zero-width")


def test_a_break_glass_justification_holding_one_is_refused(
    anonymous: TestClient,
    database: Database,
    third_token: dict[str, str],
    third_ig_token: dict[str, str],
) -> None:
    # "Patient at risk" with its end reversed on screen: percent-encoded, as the header's
    # non-ASCII text must be.
    reordered = "Patient%20at%20risk%20%E2%80%AEksir%20on"
    before = store_contents(database)

    response = anonymous.get(
        "/fhir/ServiceRequest",
        params={"subject:identifier": f"{NHS}|9434765919"},
        headers={
            **third_token,
            "X-Purpose-Of-Use": "BTG",
            "X-Break-Glass-Justification": reordered,
        },
    )

    issue = refused_issue(response, 400, "X-Break-Glass-Justification")
    assert "zero-width or bidirectional-control" in issue["diagnostics"]
    assert "risk" not in issue["diagnostics"]
    assert store_contents(database) == before
    assert_refusal_logged(
        anonymous, third_ig_token, "search-type", THIRD_PROVIDER, "X-Break-Glass-Justification"
    )


def test_an_end_user_identifier_holding_one_is_refused(
    anonymous: TestClient, third_token: dict[str, str], third_ig_token: dict[str, str]
) -> None:
    practitioner = {
        "resourceType": "PractitionerRole",
        "identifier": [
            {
                "system": "https://fhir.nhs.uk/Id/sds-role-profile-id",
                "value": f"55{ZERO_WIDTH_SPACE}55",
            }
        ],
    }
    header = base64.b64encode(json.dumps(practitioner).encode()).decode()

    response = anonymous.get(
        "/fhir/ServiceRequest", headers={**third_token, "NHSD-Requesting-Practitioner": header}
    )

    issue = refused_issue(response, 400, "NHSD-Requesting-Practitioner")
    assert "zero-width or bidirectional-control" in issue["diagnostics"]
    assert_refusal_logged(
        anonymous, third_ig_token, "search-type", THIRD_PROVIDER, "NHSD-Requesting-Practitioner"
    )


def test_free_text_keeps_them_and_the_summary_page_isolates_it(
    anonymous: TestClient, third_token: dict[str, str], trust_token: dict[str, str]
) -> None:
    said = f"Said {RIGHT_TO_LEFT_OVERRIDE}enola ton m'I on the phone"
    body = _dataset(("current_presentation",), said)

    created = push(anonymous, body, **third_token)

    assert created.status_code == 201, created.text
    communication = created.json()["resources"]["Communication"]
    served = anonymous.get(f"/fhir/{communication}", headers=trust_token).json()
    assert said in json.dumps(served, ensure_ascii=False)
    page = anonymous.get(
        f"/fhir/{communication}/$summary", headers={**trust_token, "Accept": "text/html"}
    )
    assert page.status_code == 200
    assert f"<bdi>{html.escape(said)}</bdi>" in page.text
