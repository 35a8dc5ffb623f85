"""Small builders for valid resources used across the tests."""

from __future__ import annotations

from typing import Any

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
CATEGORY = "https://fhir.mh-gateway.example.org/CodeSystem/communication-category"

PROVIDER_ODS = "AZZ"  # the demo provider, whose EPR the default test client is
TRUST_ODS = "RZZ"
PATIENT_NHS_NUMBER = "9434765919"
OTHER_NHS_NUMBER = "9000000009"


def ods_reference(code: str = PROVIDER_ODS) -> dict[str, Any]:
    return {"identifier": {"system": ODS, "value": code}}


def nhs_identifier(number: str = PATIENT_NHS_NUMBER) -> dict[str, str]:
    return {"system": NHS, "value": number}


def service_request(number: str = PATIENT_NHS_NUMBER, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"identifier": nhs_identifier(number)},
        "requester": {"identifier": {"system": ODS, "value": "AZZ"}},
        "performer": [{"identifier": {"system": ODS, "value": "RZZ"}}],
        "authoredOn": "2026-11-20T10:00:00Z",
        **extra,
    }


def communication(
    recipient: str = "Organization/rzz", category: str = "escalation", **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "in-progress",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "subject": {"identifier": nhs_identifier()},
        "sender": ods_reference(),
        "recipient": [{"reference": recipient}],
        "sent": "2026-11-20T10:30:00Z",
        **extra,
    }


def flag(code: str = "401206008") -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "status": "active",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
        "subject": {"identifier": nhs_identifier()},
        "period": {"start": "2026-11-19"},
        "author": ods_reference(),
    }


def patient(number: str = PATIENT_NHS_NUMBER) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [nhs_identifier(number)],
        "name": [{"family": "Example", "given": ["Alex"]}],
        "birthDate": "1994-03-02",
        "managingOrganization": ods_reference(),
    }
