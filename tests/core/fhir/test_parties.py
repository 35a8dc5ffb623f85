"""Which organisations a resource names as parties, and on what basis."""

from __future__ import annotations

from typing import Any

import pytest

from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM
from core.fhir.parties import (
    DIRECTORY_TYPES,
    EXTENSION_RECIPIENT,
    PARTY_ROLES,
    PartyReference,
    PartyRole,
    party_references,
    sender_role,
)

ODS = ODS_ORGANISATION_SYSTEM

# Where each party role's element sits, and whether it repeats (FHIR R4 cardinality).
ROLE_CASES: list[tuple[str, str, str]] = [
    (resource_type, role.basis, role.path)
    for resource_type, roles in PARTY_ROLES.items()
    if resource_type != "Organization"
    for role in roles
]
ROLE_IDS = [f"{resource_type}.{path}" for resource_type, _, path in ROLE_CASES]
REPEATING = {
    ("ServiceRequest", "performer"),
    ("Communication", "recipient"),
    ("Consent", "organization"),
    ("Consent", "performer"),
    ("Patient", "generalPractitioner"),
}


def _ods_reference(code: str, **members: Any) -> dict[str, Any]:
    return {"identifier": {"system": ODS, "value": code}, **members}


def _place(resource_type: str, path: str, reference: dict[str, Any]) -> dict[str, Any]:
    """A resource holding reference at path, as a list where the element repeats."""
    resource: dict[str, Any] = {"resourceType": resource_type}
    if path == "extension.valueReference":
        resource["extension"] = [{"url": EXTENSION_RECIPIENT, "valueReference": reference}]
    elif path.startswith("agent."):
        resource["agent"] = [{path.removeprefix("agent."): reference}]
    elif (resource_type, path) in REPEATING:
        resource[path] = [reference]
    else:
        resource[path] = reference
    return resource


def test_only_the_recipient_extension_names_a_party_among_extensions() -> None:
    other = {"url": "https://example.org/other", "valueReference": _ods_reference("RXX")}
    shared = {"url": EXTENSION_RECIPIENT, "valueReference": _ods_reference("RZZ")}
    flag = {"resourceType": "Flag", "extension": [other, shared]}
    assert party_references("Flag", flag) == [PartyReference("recipient", ods_code="RZZ")]


def test_every_party_type_has_a_sender_role_first() -> None:
    assert sender_role("ServiceRequest") == PartyRole("requester", "requester")
    assert sender_role("Communication") == PartyRole("sender", "sender")
    # The owner answers a referral with a Task: it is the Task's sender.
    assert sender_role("Task") == PartyRole("owner", "owner")
    assert sender_role("Flag") == PartyRole("author", "author")
    assert sender_role("Consent") == PartyRole("custodian", "organization")
    assert sender_role("Provenance") == PartyRole("agent", "agent.who")
    assert sender_role("Patient") == PartyRole("managing-organization", "managingOrganization")
    assert sender_role("Organization") == PartyRole("self", "identifier")


def test_a_type_without_party_roles_has_no_sender_and_no_parties() -> None:
    with pytest.raises(KeyError):
        sender_role("Observation")
    observation = {"resourceType": "Observation", "performer": [_ods_reference("RZZ")]}
    assert party_references("Observation", observation) == []


def test_the_directory_types_are_organizations_only() -> None:
    assert frozenset({"Organization"}) == DIRECTORY_TYPES


@pytest.mark.parametrize(("resource_type", "basis", "path"), ROLE_CASES, ids=ROLE_IDS)
def test_an_ods_identifier_in_each_party_role_is_found(
    resource_type: str, basis: str, path: str
) -> None:
    resource = _place(resource_type, path, _ods_reference("RZZ", display="A Trust"))
    assert party_references(resource_type, resource) == [PartyReference(basis, ods_code="RZZ")]


@pytest.mark.parametrize(
    "reference",
    [
        "Organization/org-1",
        "https://gateway.example.org/fhir/Organization/org-1",
        "http://other.example.org/base/R4/Organization/org-1",
        "Organization/org-1/_history/3",
        "https://gateway.example.org/fhir/Organization/org-1/_history/12",
    ],
    ids=["relative", "absolute", "other-server", "history", "absolute-history"],
)
@pytest.mark.parametrize(("resource_type", "basis", "path"), ROLE_CASES, ids=ROLE_IDS)
def test_a_literal_organization_reference_in_each_party_role_is_found(
    resource_type: str, basis: str, path: str, reference: str
) -> None:
    resource = _place(resource_type, path, {"reference": reference})
    assert party_references(resource_type, resource) == [
        PartyReference(basis, organization_id="org-1")
    ]


@pytest.mark.parametrize(("resource_type", "basis", "path"), ROLE_CASES, ids=ROLE_IDS)
def test_a_reference_with_both_forms_yields_both(resource_type: str, basis: str, path: str) -> None:
    resource = _place(resource_type, path, _ods_reference("AZZ", reference="Organization/x"))
    assert party_references(resource_type, resource) == [
        PartyReference(basis, ods_code="AZZ"),
        PartyReference(basis, organization_id="x"),
    ]


@pytest.mark.parametrize(
    "reference",
    [
        {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-site-code", "value": "RZZ01"}},
        {"identifier": {"system": "http://fhir.nhs.uk/Id/ods-organization-code", "value": "RZZ"}},
        {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organisation-code", "value": "R"}},
        {"identifier": {"value": "RZZ"}},
        {"identifier": {"system": ODS}},
        {"identifier": {"system": ODS, "value": "rzz"}},
        {"identifier": {"system": ODS, "value": "RZ"}},
        {"identifier": {"system": ODS, "value": "RZZ RZZ"}},
        {"identifier": {"system": ODS, "value": "ABCDEFGHIJK"}},
        {"identifier": {"system": ODS, "value": 123}},
        {"identifier": [{"system": ODS, "value": "RZZ"}]},
        {"identifier": "RZZ"},
        {"reference": "Practitioner/p-1"},
        {"reference": "PractitionerRole/pr-1"},
        {"reference": "https://gateway.example.org/fhir/Practitioner/p-1"},
        {"reference": "#org"},
        {"reference": "#Organization/org"},
        {"reference": "Organization"},
        {"reference": "Organization/"},
        {"reference": "urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7"},
        {"reference": "Organization/x/extra"},
        {"reference": 7},
        {"display": "A Trust"},
        {},
        "Organization/org-1",
        ["Organization/org-1"],
        None,
    ],
    ids=[
        "ods-site-system",
        "http-near-miss",
        "organisation-spelling",
        "no-system",
        "no-value",
        "lower-case-code",
        "code-too-short",
        "code-with-space",
        "code-too-long",
        "numeric-value",
        "identifier-list",
        "identifier-string",
        "practitioner",
        "practitioner-role",
        "absolute-practitioner",
        "contained",
        "contained-organization-like",
        "type-only",
        "empty-id",
        "bundle-urn",
        "extra-segment",
        "reference-number",
        "display-only",
        "empty",
        "bare-string",
        "list-of-string",
        "null",
    ],
)
def test_references_that_name_no_organisation_yield_nothing(reference: Any) -> None:
    resource = {"resourceType": "ServiceRequest", "requester": reference}
    assert party_references("ServiceRequest", resource) == []


def test_an_organization_names_itself_by_its_ods_identifier() -> None:
    organization = {
        "resourceType": "Organization",
        "id": "org-1",
        "identifier": [
            {"system": "https://example.org/local", "value": "L1"},
            {"system": ODS, "value": "RZZ"},
        ],
        "partOf": {"identifier": {"system": ODS, "value": "AZZ"}},
    }
    assert party_references("Organization", organization) == [
        PartyReference("self", ods_code="RZZ")
    ]


def test_an_organization_identifier_that_is_a_reference_is_not_followed() -> None:
    organization = {
        "resourceType": "Organization",
        "identifier": [{"reference": "Organization/other"}, {"system": ODS, "value": "rzz"}],
    }
    assert party_references("Organization", organization) == []


def test_a_resource_without_its_party_elements_has_no_parties() -> None:
    assert party_references("ServiceRequest", {"resourceType": "ServiceRequest"}) == []
    assert party_references("Provenance", {"resourceType": "Provenance", "agent": []}) == []
    assert party_references("Provenance", {"agent": [{"role": []}]}) == []


def test_parties_come_in_role_order_then_element_order_without_duplicates() -> None:
    service_request = {
        "resourceType": "ServiceRequest",
        "performer": [
            _ods_reference("BZZ"),
            {"reference": "Organization/p-1"},
            _ods_reference("AZZ"),
            _ods_reference("BZZ"),
            {"reference": "Organization/p-1/_history/2"},
            {"reference": "Practitioner/x"},
        ],
        "requester": _ods_reference("RZZ", reference="Organization/r-1"),
    }
    expected = [
        PartyReference("requester", ods_code="RZZ"),
        PartyReference("requester", organization_id="r-1"),
        PartyReference("performer", ods_code="BZZ"),
        PartyReference("performer", organization_id="p-1"),
        PartyReference("performer", ods_code="AZZ"),
    ]
    assert party_references("ServiceRequest", service_request) == expected
    assert party_references("ServiceRequest", service_request) == expected


def test_the_same_organisation_in_two_roles_is_a_party_on_each_basis() -> None:
    task = {
        "resourceType": "Task",
        "requester": _ods_reference("RZZ"),
        "owner": _ods_reference("RZZ"),
    }
    assert party_references("Task", task) == [
        PartyReference("owner", ods_code="RZZ"),
        PartyReference("requester", ods_code="RZZ"),
    ]


def test_provenance_agents_are_parties_through_who_and_on_behalf_of() -> None:
    provenance = {
        "resourceType": "Provenance",
        "agent": [
            {"who": {"reference": "Practitioner/p"}, "onBehalfOf": _ods_reference("AZZ")},
            {"who": _ods_reference("RZZ")},
            {"who": {"reference": "Organization/o-1"}},
        ],
    }
    assert party_references("Provenance", provenance) == [
        PartyReference("agent", ods_code="RZZ"),
        PartyReference("agent", organization_id="o-1"),
        PartyReference("agent", ods_code="AZZ"),
    ]


def test_consent_names_its_custodian_and_performers() -> None:
    consent = {
        "resourceType": "Consent",
        "organization": [_ods_reference("RZZ")],
        "performer": [{"reference": "Patient/p"}, _ods_reference("AZZ")],
    }
    assert party_references("Consent", consent) == [
        PartyReference("custodian", ods_code="RZZ"),
        PartyReference("performer", ods_code="AZZ"),
    ]


def test_the_type_argument_decides_the_roles_not_the_resource_type_member() -> None:
    resource = {"resourceType": "Task", "requester": _ods_reference("RZZ")}
    assert party_references("Flag", resource) == []
    assert party_references("ServiceRequest", resource) == [
        PartyReference("requester", ods_code="RZZ")
    ]
