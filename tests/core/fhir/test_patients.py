"""Who a record is about: the person is established, or the record is refused at its
patient element. Never "no patient" for a type about a person, whatever is written."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.fhir.identifiers import NHS_NUMBER_OID, NHS_NUMBER_SYSTEM, is_valid_nhs_number
from core.fhir.issues import ContentError, IssueCode
from core.fhir.patients import (
    PATIENT_ELEMENTS,
    fact_identifier,
    is_about_a_person,
    local_fact,
    patient_fact,
    referenced_patient,
    written_identifier,
)

LOCAL = "https://example-recovery.example.org/Id/client-number"
OTHER_LOCAL = "urn:oid:1.2.826.0.1.999.7"
REGISTERED = frozenset({LOCAL})
NUMBER = "9434765919"
SETTINGS = settings(max_examples=200, deadline=None)

person_types = st.sampled_from(sorted(PATIENT_ELEMENTS))
other_types = st.sampled_from(["Provenance", "Organization", "AuditEvent", "Bundle"])
# Valid NHS numbers: nine digits and their Modulus 11 check digit, where one exists.
nhs_numbers = (
    st.from_regex(r"[1-9][0-9]{8}", fullmatch=True)
    .map(
        lambda nine: (
            nine
            + str(
                (11 - sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True)) % 11)
                % 11
            )
        )
    )
    .filter(is_valid_nhs_number)
)
local_values = st.from_regex(r"[A-Za-z0-9\-._:/]{1,64}", fullmatch=True)
# Anything JSON can say, for the patient element.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["reference", "identifier", "display", "type", "system", "value", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def record(resource_type: str, named: Any) -> dict[str, Any]:
    return {"resourceType": resource_type, PATIENT_ELEMENTS[resource_type]: named}


def refused(resource_type: str, named: Any, **kwargs: Any) -> str:
    """The expression the refusal names (and it names one, as a business rule)."""
    with pytest.raises(ContentError) as error:
        patient_fact(
            resource_type, record(resource_type, named), local_systems=REGISTERED, **kwargs
        )
    (issue,) = error.value.issues
    assert error.value.business_rule
    assert issue.code is IssueCode.BUSINESS_RULE
    assert issue.expression is not None
    return issue.expression


# -- never "no patient" -------------------------------------------------------------------


@SETTINGS
@given(person_types, json_values, st.none() | st.sampled_from([NUMBER, local_fact(LOCAL, "C-1")]))
def test_a_record_about_a_person_is_theirs_or_refused_never_nobodys(
    resource_type: str, named: Any, referenced: str | None
) -> None:
    resource = {"resourceType": resource_type, PATIENT_ELEMENTS[resource_type]: named}
    outcome = _established(resource_type, resource, referenced)
    if isinstance(outcome, ContentError):
        assert outcome.issues
        assert all(issue.expression for issue in outcome.issues)
        return
    assert outcome is not None
    system, value = fact_identifier(outcome)
    assert system == NHS_NUMBER_SYSTEM or system in REGISTERED
    assert value


def _established(
    resource_type: str, resource: dict[str, Any], referenced: str | None
) -> str | ContentError | None:
    try:
        return patient_fact(
            resource_type, resource, local_systems=REGISTERED, referenced=referenced
        )
    except ContentError as error:
        return error


@SETTINGS
@given(person_types)
def test_a_missing_patient_element_is_refused_at_it(resource_type: str) -> None:
    with pytest.raises(ContentError) as error:
        patient_fact(resource_type, {"resourceType": resource_type}, local_systems=REGISTERED)
    assert [issue.expression for issue in error.value.issues] == [
        f"{resource_type}.{PATIENT_ELEMENTS[resource_type]}"
    ]


@SETTINGS
@given(other_types, json_values)
def test_a_type_about_nobody_has_no_patient_whatever_it_says(resource_type: str, body: Any) -> None:
    assert not is_about_a_person(resource_type)
    resource = {"resourceType": resource_type, "subject": body, "patient": body}
    assert patient_fact(resource_type, resource, local_systems=REGISTERED) is None


# -- by NHS number ------------------------------------------------------------------------


@SETTINGS
@given(person_types, nhs_numbers, st.none() | st.text(max_size=20))
def test_an_nhs_number_identifier_is_the_person(
    resource_type: str, number: str, display: str | None
) -> None:
    named: dict[str, Any] = {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": number}}
    if display is not None:
        named["display"] = display
    for systems in (REGISTERED, frozenset()):
        resource = record(resource_type, named)
        assert patient_fact(resource_type, resource, local_systems=systems) == number


@pytest.mark.parametrize(
    "system",
    [
        "http://fhir.nhs.uk/Id/nhs-number",
        "https://fhir.nhs.uk/id/nhs-number",
        "https://fhir.nhs.uk/Id/nhs-number/",
        NHS_NUMBER_OID,
    ],
)
def test_a_near_miss_of_the_nhs_number_system_is_refused_saying_which_to_use(system: str) -> None:
    with pytest.raises(ContentError) as error:
        patient_fact(
            "ServiceRequest",
            record("ServiceRequest", {"identifier": {"system": system, "value": NUMBER}}),
            local_systems=REGISTERED,
        )
    (issue,) = error.value.issues
    assert issue.expression == "ServiceRequest.subject.identifier.system"
    assert NHS_NUMBER_SYSTEM in issue.diagnostics
    assert NUMBER not in issue.diagnostics


@SETTINGS
@given(person_types, st.text(min_size=1, max_size=60), nhs_numbers)
def test_an_identifier_in_any_other_system_is_refused_at_its_system(
    resource_type: str, system: str, number: str
) -> None:
    assume(system not in (NHS_NUMBER_SYSTEM, LOCAL))
    expression = refused(resource_type, {"identifier": {"system": system, "value": number}})
    assert expression == f"{resource_type}.{PATIENT_ELEMENTS[resource_type]}.identifier.system"


@SETTINGS
@given(person_types, nhs_numbers)
def test_an_identifier_without_a_system_names_nobody(resource_type: str, number: str) -> None:
    expression = refused(resource_type, {"identifier": {"value": number}})
    assert expression.endswith(".identifier.system")


@SETTINGS
@given(person_types, st.text(max_size=30))
def test_a_display_alone_names_nobody(resource_type: str, display: str) -> None:
    expression = refused(resource_type, {"display": display})
    assert expression == f"{resource_type}.{PATIENT_ELEMENTS[resource_type]}"


def test_an_invalid_nhs_number_is_refused_at_its_value() -> None:
    named = {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": "9434765918"}}
    assert refused("Flag", named) == "Flag.subject.identifier.value"


def test_a_subject_that_is_not_a_person_is_refused_at_its_type() -> None:
    named = {"type": "Group", "identifier": {"system": NHS_NUMBER_SYSTEM, "value": NUMBER}}
    assert refused("ServiceRequest", named) == "ServiceRequest.subject.type"


# -- by a Patient stored here ----------------------------------------------------------------


@SETTINGS
@given(person_types, st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True), nhs_numbers)
def test_a_reference_is_the_person_of_the_patient_stored_here(
    resource_type: str, patient_id: str, number: str
) -> None:
    resource = record(resource_type, {"reference": f"Patient/{patient_id}"})
    assert referenced_patient(resource_type, resource) == patient_id
    found = patient_fact(resource_type, resource, local_systems=frozenset(), referenced=number)
    assert found == number
    with pytest.raises(ContentError) as error:
        patient_fact(resource_type, resource, local_systems=frozenset(), referenced=None)
    assert [issue.expression for issue in error.value.issues] == [
        f"{resource_type}.{PATIENT_ELEMENTS[resource_type]}.reference"
    ]


@pytest.mark.parametrize(
    "reference",
    [
        "https://elsewhere.example.org/fhir/Patient/1",
        "#contained",
        "Group/1",
        "Patient/",
        "Patient/1/_history/2",
        "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
    ],
)
def test_a_reference_to_no_patient_stored_here_is_refused(reference: str) -> None:
    resource = record("Task", {"reference": reference})
    assert referenced_patient("Task", resource) is None
    assert refused("Task", {"reference": reference}, referenced=NUMBER) == "Task.for.reference"


def test_a_referenced_patient_known_only_by_another_organisations_local_identifier() -> None:
    """The Patient is someone only its issuer can tell: not one this record can name."""
    theirs = local_fact(OTHER_LOCAL, "X-9")
    assert (
        refused("Flag", {"reference": "Patient/p1"}, referenced=theirs) == "Flag.subject.reference"
    )


def test_a_reference_and_an_identifier_must_name_the_same_person() -> None:
    both = {
        "reference": "Patient/p1",
        "identifier": {"system": NHS_NUMBER_SYSTEM, "value": NUMBER},
    }
    assert refused("Consent", both, referenced="9000000009") == "Consent.patient"
    resource = record("Consent", both)
    assert patient_fact("Consent", resource, local_systems=REGISTERED, referenced=NUMBER) == NUMBER


# -- by a local identifier -------------------------------------------------------------------


@SETTINGS
@given(person_types, local_values)
def test_a_registered_local_identifier_is_the_person(resource_type: str, value: str) -> None:
    named = {"identifier": {"system": LOCAL, "value": value}}
    found = patient_fact(resource_type, record(resource_type, named), local_systems=REGISTERED)
    assert found == local_fact(LOCAL, value)
    assert fact_identifier(found) == (LOCAL, value)
    assert written_identifier(resource_type, record(resource_type, named)) == found


@SETTINGS
@given(person_types, st.from_regex(r"C-[0-9]{6}", fullmatch=True))
def test_a_local_identifier_not_registered_for_a_party_is_refused(
    resource_type: str, value: str
) -> None:
    named = {"identifier": {"system": OTHER_LOCAL, "value": value}}
    with pytest.raises(ContentError) as error:
        patient_fact(resource_type, record(resource_type, named), local_systems=REGISTERED)
    (issue,) = error.value.issues
    assert issue.expression.endswith(".identifier.system")  # type: ignore[union-attr]
    assert value not in issue.diagnostics


@pytest.mark.parametrize("value", ["", "C 000417", "C|000417", "x" * 65, "Ä-1"])
def test_a_local_identifier_value_must_be_plain(value: str) -> None:
    named = {"identifier": {"system": LOCAL, "value": value}}
    assert refused("ServiceRequest", named) == "ServiceRequest.subject.identifier.value"


# -- a Patient is the person --------------------------------------------------------------


def test_a_patient_is_its_one_nhs_number_or_its_one_registered_local_identifier() -> None:
    def patient(*identifiers: dict[str, str]) -> dict[str, Any]:
        return {"resourceType": "Patient", "identifier": list(identifiers)}

    nhs = {"system": NHS_NUMBER_SYSTEM, "value": NUMBER}
    mine = {"system": LOCAL, "value": "C-1"}
    unregistered = {"system": "https://hospital.example.org/mrn", "value": "H-7"}
    assert (
        patient_fact("Patient", patient(unregistered, mine, nhs), local_systems=REGISTERED)
        == NUMBER
    )
    assert patient_fact("Patient", patient(unregistered, mine), local_systems=REGISTERED) == (
        local_fact(LOCAL, "C-1")
    )
    for nobody in (patient(), patient(unregistered), {"resourceType": "Patient"}):
        with pytest.raises(ContentError) as error:
            patient_fact("Patient", nobody, local_systems=REGISTERED)
        assert [issue.expression for issue in error.value.issues] == ["Patient.identifier"]
    two = patient(nhs, {"system": NHS_NUMBER_SYSTEM, "value": "9000000009"})
    with pytest.raises(ContentError):
        patient_fact("Patient", two, local_systems=REGISTERED)


# -- the person's identifier ----------------------------------------------------------------


@SETTINGS
@given(nhs_numbers, local_values)
def test_an_identifier_is_read_back_as_written(number: str, value: str) -> None:
    assert fact_identifier(number) == (NHS_NUMBER_SYSTEM, number)
    assert fact_identifier(local_fact(LOCAL, value)) == (LOCAL, value)
    assert "|" not in number  # so the two forms can never be confused
