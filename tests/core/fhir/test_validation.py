from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from core.fhir.identifiers import NHS_NUMBER_SYSTEM, ODS_ORGANISATION_SYSTEM
from core.fhir.issues import ContentError, Issue, IssueCode
from core.fhir.models import SUPPORTED_RESOURCE_TYPES, model_class
from core.fhir.required_bindings import REQUIRED_BINDINGS, binding_issues
from core.fhir.validation import check_uk_core, validate_structure
from tests.fhir_judge import assert_valid_fhir

NHS_NUMBER = "9434765919"
BAD_NHS_NUMBER = "9434765918"
PATIENT_BY_NHS_NUMBER = {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER}}
ORGANISATION = {"identifier": {"system": ODS_ORGANISATION_SYSTEM, "value": "RZZ"}}

MINIMAL: dict[str, dict[str, Any]] = {
    "ServiceRequest": {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": PATIENT_BY_NHS_NUMBER,
    },
    "Communication": {"resourceType": "Communication", "status": "completed"},
    "Flag": {
        "resourceType": "Flag",
        "status": "active",
        "code": {"text": "Risk to others"},
        "subject": {"reference": "Patient/p1"},
    },
    "Task": {"resourceType": "Task", "status": "requested", "intent": "order"},
    "Consent": {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/p1"},
        "policyRule": {"text": "Share for direct care"},
    },
    "Provenance": {
        "resourceType": "Provenance",
        "target": [{"reference": "ServiceRequest/s1"}],
        "recorded": "2026-11-22T10:15:00Z",
        "agent": [{"who": ORGANISATION}],
    },
    "Patient": {
        "resourceType": "Patient",
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER}],
    },
    "Organization": {
        "resourceType": "Organization",
        "identifier": [{"system": ODS_ORGANISATION_SYSTEM, "value": "RZZ"}],
        "name": "Example Trust",
    },
}


def minimal(resource_type: str, **changes: Any) -> dict[str, Any]:
    resource = copy.deepcopy(MINIMAL[resource_type])
    resource.update(changes)
    return resource


def structure_issues(resource: dict[str, Any], resource_type: str) -> list[Issue]:
    with pytest.raises(ContentError) as caught:
        validate_structure(resource, resource_type)
    assert not caught.value.business_rule
    return caught.value.issues


def uk_core_failure(resource: dict[str, Any], resource_type: str) -> ContentError:
    with pytest.raises(ContentError) as caught:
        check_uk_core(resource, resource_type)
    return caught.value


def test_there_is_an_example_for_every_supported_type() -> None:
    assert set(MINIMAL) == set(SUPPORTED_RESOURCE_TYPES)


@pytest.mark.parametrize("resource_type", SUPPORTED_RESOURCE_TYPES)
def test_the_examples_are_valid_fhir_r4_by_the_hl7_schema(resource_type: str) -> None:
    assert_valid_fhir(MINIMAL[resource_type])


@pytest.mark.parametrize("resource_type", SUPPORTED_RESOURCE_TYPES)
def test_a_minimal_valid_resource_passes_unchanged(resource_type: str) -> None:
    resource = minimal(resource_type)

    assert validate_structure(resource, resource_type) == MINIMAL[resource_type]
    check_uk_core(resource, resource_type)


def test_server_owned_id_version_and_last_updated_are_removed_but_tags_are_kept() -> None:
    tag = {"system": "https://example.org/tags", "code": "handover"}
    resource = minimal(
        "Patient",
        id="client-chosen",
        meta={"versionId": "7", "lastUpdated": "2020-01-01T00:00:00Z", "tag": [tag]},
    )

    result = validate_structure(resource, "Patient")

    assert "id" not in result
    assert result["meta"] == {"tag": [tag]}
    assert resource["id"] == "client-chosen"  # the caller's dict is not modified
    assert resource["meta"]["versionId"] == "7"


def test_meta_with_only_server_owned_parts_is_removed_entirely() -> None:
    resource = minimal("Patient", meta={"versionId": "7", "lastUpdated": "2020-01-01T00:00:00Z"})

    assert "meta" not in validate_structure(resource, "Patient")


def test_server_owned_values_are_not_validated() -> None:
    resource = minimal("Patient", id="not a valid id!", meta={"lastUpdated": "yesterday"})

    assert validate_structure(resource, "Patient") == MINIMAL["Patient"]


def test_a_missing_resource_type_is_a_required_issue() -> None:
    resource = minimal("Patient")
    del resource["resourceType"]

    [issue] = structure_issues(resource, "Patient")

    assert (issue.code, issue.expression) == (IssueCode.REQUIRED, "resourceType")


@pytest.mark.parametrize("resource_type", ["Observation", "patient", 42, ["Patient"]])
def test_an_unsupported_resource_type_is_not_supported(resource_type: object) -> None:
    [issue] = structure_issues(minimal("Patient", resourceType=resource_type), "Patient")

    assert (issue.code, issue.expression) == (IssueCode.NOT_SUPPORTED, "resourceType")
    assert "Observation" not in issue.diagnostics


def test_a_resource_type_other_than_the_urls_is_invalid() -> None:
    [issue] = structure_issues(minimal("Patient"), "Organization")

    assert (issue.code, issue.expression) == (IssueCode.INVALID, "resourceType")


def test_an_unknown_element_is_a_structure_issue_at_its_path() -> None:
    [issue] = structure_issues(minimal("ServiceRequest", foo="bar"), "ServiceRequest")

    assert issue.code is IssueCode.STRUCTURE
    assert issue.expression == "ServiceRequest.foo"


def test_a_nested_unknown_element_is_located_with_list_indexes() -> None:
    category = [{"coding": [{"code": "x", "foo": "bar"}]}]

    [issue] = structure_issues(minimal("ServiceRequest", category=category), "ServiceRequest")

    assert issue.expression == "ServiceRequest.category[0].coding[0].foo"


def test_an_element_whose_python_name_differs_is_located_by_its_fhir_name() -> None:
    task = minimal("Task", **{"for": {"reference": "Patient/p1", "foo": 1}})

    [issue] = structure_issues(task, "Task")

    assert issue.expression == "Task.for.foo"


def test_every_unknown_element_is_reported() -> None:
    resource = minimal("ServiceRequest", foo=1, bar=2)

    expressions = {issue.expression for issue in structure_issues(resource, "ServiceRequest")}

    assert expressions == {"ServiceRequest.foo", "ServiceRequest.bar"}


def test_a_missing_required_element_is_a_required_issue() -> None:
    resource = minimal("ServiceRequest")
    del resource["subject"]

    [issue] = structure_issues(resource, "ServiceRequest")

    assert (issue.code, issue.expression) == (IssueCode.REQUIRED, "ServiceRequest.subject")


def test_a_malformed_primitive_is_a_value_issue_without_the_value() -> None:
    [issue] = structure_issues(minimal("Patient", birthDate="2026-13-01"), "Patient")

    assert (issue.code, issue.expression) == (IssueCode.VALUE, "Patient.birthDate")
    assert "2026-13-01" not in issue.diagnostics


@pytest.mark.parametrize(
    ("resource_type", "changes", "expression"),
    [
        ("ServiceRequest", {"status": "bogus"}, "ServiceRequest.status"),
        ("ServiceRequest", {"intent": "bogus"}, "ServiceRequest.intent"),
        ("ServiceRequest", {"priority": "bogus"}, "ServiceRequest.priority"),
        ("Communication", {"status": "bogus"}, "Communication.status"),
        ("Flag", {"status": "bogus"}, "Flag.status"),
        ("Task", {"status": "bogus"}, "Task.status"),
        ("Task", {"intent": "bogus"}, "Task.intent"),
        ("Consent", {"status": "bogus"}, "Consent.status"),
        ("Consent", {"provision": {"type": "bogus"}}, "Consent.provision.type"),
        (
            "Consent",
            {"provision": {"provision": [{"type": "permit"}, {"type": "bogus"}]}},
            "Consent.provision.provision[1].type",
        ),
        (
            "Consent",
            {"provision": {"data": [{"meaning": "bogus", "reference": {"reference": "Flag/f"}}]}},
            "Consent.provision.data[0].meaning",
        ),
        ("Patient", {"gender": "bogus"}, "Patient.gender"),
        ("Patient", {"contact": [{"gender": "bogus"}]}, "Patient.contact[0].gender"),
        (
            "Patient",
            {"link": [{"type": "bogus", "other": {"reference": "Patient/p2"}}]},
            "Patient.link[0].type",
        ),
        (
            "Provenance",
            {"entity": [{"role": "bogus", "what": {"reference": "Patient/p1"}}]},
            "Provenance.entity[0].role",
        ),
    ],
)
def test_a_code_outside_its_required_binding_is_a_value_issue_at_its_path(
    resource_type: str, changes: dict[str, Any], expression: str
) -> None:
    [issue] = structure_issues(minimal(resource_type, **changes), resource_type)

    assert (issue.code, issue.expression) == (IssueCode.VALUE, expression)
    assert "bogus" not in issue.diagnostics


def test_codes_are_compared_exactly() -> None:
    [issue] = structure_issues(minimal("ServiceRequest", status="Active"), "ServiceRequest")

    assert issue.expression == "ServiceRequest.status"


def test_every_binding_failure_is_reported() -> None:
    resource = minimal("ServiceRequest", status="bogus", intent="bogus")

    expressions = {issue.expression for issue in structure_issues(resource, "ServiceRequest")}

    assert expressions == {"ServiceRequest.status", "ServiceRequest.intent"}


def test_binding_issues_are_empty_for_a_type_without_bindings() -> None:
    assert binding_issues({"status": "bogus"}, "Organization") == []


# The models mark closed code lists with enum_values (abbreviated ones end in "+").
def _field(model: Any, fhir_name: str) -> Any:
    for name, field in model.model_fields.items():
        if (field.alias or name) == fhir_name:
            return field
    raise AssertionError(f"{model.__name__} has no element {fhir_name}")


def _closed_code_lists(resource_type: str) -> Iterator[tuple[str, list[str]]]:
    """(path, codes) for each code element of the resource and its own backbone elements."""

    def walk(model: Any, prefix: str, depth: int) -> Iterator[tuple[str, list[str]]]:
        for name, field in model.model_fields.items():
            path = prefix + (field.alias or name)
            codes = (field.json_schema_extra or {}).get("enum_values")
            if codes and "+" not in codes:
                yield path, codes
            backbone = re.search(rf"abc\.({resource_type}\w*)Type\b", str(field.annotation))
            if backbone and depth < 3:
                yield from walk(model_class(backbone.group(1)), path + ".", depth + 1)

    yield from walk(model_class(resource_type), "", 0)


@pytest.mark.parametrize("resource_type", SUPPORTED_RESOURCE_TYPES)
def test_every_closed_code_list_in_the_models_is_an_enforced_binding(resource_type: str) -> None:
    model_lists = dict(_closed_code_lists(resource_type))
    bindings = REQUIRED_BINDINGS.get(resource_type, {})

    assert {path: set(bindings.get(path, ())) for path in model_lists} == {
        path: set(codes) for path, codes in model_lists.items()
    }


@pytest.mark.parametrize(
    ("resource_type", "path"),
    [(rt, path) for rt, bindings in REQUIRED_BINDINGS.items() for path in bindings],
)
def test_every_binding_path_is_an_element_of_the_model(resource_type: str, path: str) -> None:
    model = model_class(resource_type)
    *parents, leaf = path.split(".")
    for step in parents:
        element_type = re.search(r"abc\.(\w+)Type\b", str(_field(model, step).annotation))
        assert element_type is not None
        model = model_class(element_type.group(1))
    assert "Code()" in str(_field(model, leaf).annotation)


def test_an_invalid_nhs_number_in_a_reference_identifier_is_a_business_rule_failure() -> None:
    subject = {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": BAD_NHS_NUMBER}}

    error = uk_core_failure(minimal("ServiceRequest", subject=subject), "ServiceRequest")

    assert error.business_rule
    [issue] = error.issues
    assert (issue.code, issue.expression) == (
        IssueCode.VALUE,
        "ServiceRequest.subject.identifier.value",
    )


def test_an_invalid_nhs_number_on_the_patient_is_located_by_index() -> None:
    identifiers = [
        {"system": "https://example.org/mrn", "value": "M1"},
        {"system": NHS_NUMBER_SYSTEM, "value": BAD_NHS_NUMBER},
    ]

    error = uk_core_failure(minimal("Patient", identifier=identifiers), "Patient")

    assert [issue.expression for issue in error.issues] == ["Patient.identifier[1].value"]


def test_an_invalid_nhs_number_as_the_first_patient_identifier() -> None:
    identifiers = [{"system": NHS_NUMBER_SYSTEM, "value": BAD_NHS_NUMBER}]

    error = uk_core_failure(minimal("Patient", identifier=identifiers), "Patient")

    assert [issue.expression for issue in error.issues] == ["Patient.identifier[0].value"]


def test_nhs_numbers_inside_contained_resources_and_extensions_are_checked() -> None:
    resource = minimal(
        "ServiceRequest",
        contained=[
            {
                "resourceType": "Patient",
                "id": "p",
                "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": BAD_NHS_NUMBER}],
            }
        ],
        extension=[
            {
                "url": "https://example.org/previous-nhs-number",
                "valueIdentifier": {"system": NHS_NUMBER_SYSTEM, "value": "12345"},
            }
        ],
    )

    error = uk_core_failure(resource, "ServiceRequest")

    assert {issue.expression for issue in error.issues} == {
        "ServiceRequest.contained[0].identifier[0].value",
        "ServiceRequest.extension[0].valueIdentifier.value",
    }


def test_nhs_numbers_under_other_systems_are_not_checked() -> None:
    identifiers = [{"system": "https://example.org/mrn", "value": BAD_NHS_NUMBER}]

    check_uk_core(minimal("Patient", identifier=identifiers), "Patient")


def test_an_invalid_ods_code_is_a_business_rule_failure() -> None:
    identifiers = [{"system": ODS_ORGANISATION_SYSTEM, "value": "rzz"}]

    error = uk_core_failure(minimal("Organization", identifier=identifiers), "Organization")

    assert error.business_rule
    assert [issue.expression for issue in error.issues] == ["Organization.identifier[0].value"]
    assert "rzz" not in error.issues[0].diagnostics


@pytest.mark.parametrize(
    "system",
    [
        "http://fhir.nhs.uk/Id/ods-organization-code",
        "https://fhir.nhs.uk/Id/ods-organisation-code",
        "urn:oid:2.16.840.1.113883.2.1.3.2.4.19.1",
    ],
)
def test_a_near_miss_ods_system_is_flagged_at_the_system(system: str) -> None:
    requester = {"identifier": {"system": system, "value": "RZZ"}}

    error = uk_core_failure(minimal("ServiceRequest", requester=requester), "ServiceRequest")

    assert error.business_rule
    [issue] = error.issues
    assert issue.expression == "ServiceRequest.requester.identifier.system"
    assert ODS_ORGANISATION_SYSTEM in issue.diagnostics


def test_uk_core_issues_never_repeat_the_offending_values() -> None:
    resource = minimal(
        "ServiceRequest",
        subject={"identifier": {"system": NHS_NUMBER_SYSTEM, "value": BAD_NHS_NUMBER}},
        requester={"identifier": {"system": ODS_ORGANISATION_SYSTEM, "value": "not-ods"}},
        performer=[{"identifier": {"system": "https://fhir.nhs.uk/Id/ods-code", "value": "R1"}}],
    )

    error = uk_core_failure(resource, "ServiceRequest")

    assert len(error.issues) == 3
    for issue in error.issues:
        for value in (BAD_NHS_NUMBER, "not-ods", "https://fhir.nhs.uk/Id/ods-code"):
            assert value not in issue.diagnostics
    assert BAD_NHS_NUMBER not in str(error)


def test_structure_issues_never_repeat_the_offending_values() -> None:
    resource = minimal(
        "ServiceRequest",
        status="bogus-9434765918",
        category=[{"coding": [{"code": "x", "foo": "9434765918"}]}],
        authoredOn="9434765918",
    )

    with pytest.raises(ContentError) as caught:
        validate_structure(resource, "ServiceRequest")

    assert caught.value.issues
    for issue in caught.value.issues:
        assert "9434765918" not in issue.diagnostics
        assert "9434765918" not in (issue.expression or "")
    assert "9434765918" not in str(caught.value)
