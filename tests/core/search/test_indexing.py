from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.fhir.dates import EARLIEST, LATEST
from core.search.indexing import (
    INDEXED_TEXT_LENGTH,
    IndexRow,
    index_rows,
    indexes_person,
    normalise_reference,
)

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
SNOMED = "http://snomed.info/sct"


def service_request(**elements: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        **elements,
    }


def rows_for(param: str, resource_type: str, resource: dict[str, Any]) -> list[IndexRow]:
    return [row for row in index_rows(resource_type, resource) if row.param == param]


def test_a_code_string_is_a_token_without_a_system() -> None:
    assert rows_for("status", "ServiceRequest", service_request()) == [
        IndexRow("status", value="active")
    ]


def test_every_coding_of_a_codeable_concept_is_a_token() -> None:
    category = [
        {
            "coding": [
                {"system": SNOMED, "code": "306206005"},
                {"system": "https://example.org/categories", "code": "handover"},
                {"code": "no-system"},
                {"system": SNOMED, "display": "no code"},
            ],
            "text": "Referral",
        },
        {"text": "text only"},
    ]

    rows = rows_for("category", "ServiceRequest", service_request(category=category))

    assert rows == [
        IndexRow("category", system=SNOMED, value="306206005"),
        IndexRow("category", system="https://example.org/categories", value="handover"),
        IndexRow("category", value="no-system"),
    ]


def test_an_identifier_is_a_token_of_system_and_value() -> None:
    identifiers = [
        {"system": "https://trust.example.org/referrals", "value": "R-1"},
        {"value": "bare"},
        {"system": "https://trust.example.org/referrals"},
    ]

    rows = rows_for("identifier", "ServiceRequest", service_request(identifier=identifiers))

    assert rows == [
        IndexRow("identifier", system="https://trust.example.org/referrals", value="R-1"),
        IndexRow("identifier", value="bare"),
    ]


def test_token_text_is_cut_to_the_indexed_length() -> None:
    identifiers = [{"system": "s" * 300, "value": "v" * 300}]

    [row] = rows_for("identifier", "Patient", {"identifier": identifiers})

    assert row.system == "s" * INDEXED_TEXT_LENGTH
    assert row.value == "v" * INDEXED_TEXT_LENGTH


def test_a_literal_reference_is_indexed_for_each_parameter_on_its_path() -> None:
    rows = index_rows("ServiceRequest", service_request())

    assert IndexRow("patient", value="Patient/p1") in rows
    assert IndexRow("subject", value="Patient/p1") in rows


def test_an_absolute_versioned_reference_is_indexed_as_type_and_id() -> None:
    requester = {"reference": "https://trust.example.org/fhir/Organization/RZZ/_history/3"}

    rows = rows_for("requester", "ServiceRequest", service_request(requester=requester))

    assert rows == [IndexRow("requester", value="Organization/RZZ")]


@pytest.mark.parametrize(
    "reference", ["#p1", "urn:uuid:6f1c2e8a-4b1d-4a57-9d0e-0b6a1f0e2c11", "urn:oid:1.2.3"]
)
def test_contained_and_urn_references_are_not_indexed(reference: str) -> None:
    resource = service_request(subject={"reference": reference})

    assert rows_for("patient", "ServiceRequest", resource) == []
    assert rows_for("subject", "ServiceRequest", resource) == []


def test_an_identifier_reference_gives_identifier_rows() -> None:
    subject = {"identifier": {"system": NHS, "value": "9434765919"}}

    rows = index_rows("ServiceRequest", service_request(subject=subject))

    assert IndexRow("patient:identifier", system=NHS, value="9434765919") in rows
    assert IndexRow("subject:identifier", system=NHS, value="9434765919") in rows
    assert not [row for row in rows if row.param in ("patient", "subject")]


def test_a_reference_with_both_forms_gives_both_rows() -> None:
    requester = {"reference": "Organization/o1", "identifier": {"system": ODS, "value": "RZZ"}}

    rows = rows_for("requester", "ServiceRequest", service_request(requester=requester))
    identifier_rows = rows_for(
        "requester:identifier", "ServiceRequest", service_request(requester=requester)
    )

    assert rows == [IndexRow("requester", value="Organization/o1")]
    assert identifier_rows == [IndexRow("requester:identifier", system=ODS, value="RZZ")]


def test_references_to_other_types_are_not_indexed_under_a_typed_parameter() -> None:
    resource = service_request(subject={"reference": "Group/g1"})

    assert rows_for("patient", "ServiceRequest", resource) == []
    assert rows_for("subject", "ServiceRequest", resource) == [
        IndexRow("subject", value="Group/g1")
    ]


def test_identifier_references_are_kept_whatever_the_target_types() -> None:
    subject = {"reference": "Group/g1", "identifier": {"system": NHS, "value": "9434765919"}}

    rows = rows_for("patient:identifier", "ServiceRequest", service_request(subject=subject))

    assert rows == [IndexRow("patient:identifier", system=NHS, value="9434765919")]


def test_a_parameter_without_targets_indexes_any_type() -> None:
    task = {"status": "requested", "intent": "order", "basedOn": [{"reference": "CarePlan/c1"}]}

    assert rows_for("based-on", "Task", task) == [IndexRow("based-on", value="CarePlan/c1")]


def test_task_for_is_indexed_under_patient_and_subject() -> None:
    task = {"status": "requested", "intent": "order", "for": {"reference": "Patient/p1"}}

    rows = index_rows("Task", task)

    assert IndexRow("patient", value="Patient/p1") in rows
    assert IndexRow("subject", value="Patient/p1") in rows


def test_every_reference_in_a_list_is_indexed() -> None:
    performer = [{"reference": "Organization/o1"}, {"reference": "Practitioner/d1"}]

    rows = rows_for("performer", "ServiceRequest", service_request(performer=performer))

    assert rows == [
        IndexRow("performer", value="Organization/o1"),
        IndexRow("performer", value="Practitioner/d1"),
    ]


def test_a_date_time_is_indexed_as_its_range() -> None:
    [row] = rows_for("authored", "ServiceRequest", service_request(authoredOn="2026-11-22"))

    assert row == IndexRow(
        "authored",
        low=datetime(2026, 11, 22, tzinfo=UTC),
        high=datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=UTC),
    )


def test_an_unparseable_date_is_not_indexed() -> None:
    assert rows_for("authored", "ServiceRequest", service_request(authoredOn="soon")) == []


@pytest.mark.parametrize(
    ("period", "low", "high"),
    [
        (
            {"start": "2026-01-01", "end": "2026-02-01"},
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 2, 1, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        ({"start": "2026-01-01"}, datetime(2026, 1, 1, tzinfo=UTC), LATEST),
        ({"end": "2026-02"}, EARLIEST, datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_a_period_is_indexed_with_open_ends_open_for_ever(
    period: dict[str, str], low: datetime, high: datetime
) -> None:
    flag = {"status": "active", "period": period}

    assert rows_for("date", "Flag", flag) == [IndexRow("date", low=low, high=high)]


def test_a_period_without_start_or_end_is_not_indexed() -> None:
    assert rows_for("date", "Flag", {"status": "active", "period": {}}) == []


def test_duplicate_rows_are_removed() -> None:
    identifiers = [{"system": "https://s", "value": "1"}, {"system": "https://s", "value": "1"}]
    category = [{"coding": [{"code": "a"}, {"code": "a"}]}, {"coding": [{"code": "a"}]}]

    rows = index_rows("ServiceRequest", service_request(identifier=identifiers, category=category))

    assert rows.count(IndexRow("identifier", system="https://s", value="1")) == 1
    assert rows.count(IndexRow("category", value="a")) == 1
    assert len(rows) == len(set(rows))


def test_the_order_is_stable() -> None:
    resource = service_request(
        category=[{"coding": [{"code": "b"}, {"code": "a"}]}], authoredOn="2026"
    )

    assert index_rows("ServiceRequest", resource) == index_rows("ServiceRequest", resource)


def test_a_type_without_parameters_has_no_rows() -> None:
    assert index_rows("Observation", {"status": "final"}) == []


def test_elements_missing_from_the_resource_give_no_rows() -> None:
    assert index_rows("ServiceRequest", {}) == []


@pytest.mark.parametrize(
    ("reference", "literal"),
    [
        ("Patient/1", "Patient/1"),
        ("Patient/abc-DEF.1", "Patient/abc-DEF.1"),
        ("Patient/1/_history/2", "Patient/1"),
        ("https://trust.example.org/fhir/Patient/1", "Patient/1"),
        ("https://trust.example.org/fhir/Patient/1/_history/2", "Patient/1"),
        ("http://localhost:8080/Organization/RZZ", "Organization/RZZ"),
        ("Patient/" + "a" * 64, "Patient/" + "a" * 64),
    ],
)
def test_normalise_reference_gives_type_and_id(reference: str, literal: str) -> None:
    assert normalise_reference(reference) == literal


@pytest.mark.parametrize(
    "reference",
    [
        "#p1",
        "urn:uuid:6f1c2e8a-4b1d-4a57-9d0e-0b6a1f0e2c11",
        "urn:oid:1.2.3",
        "",
        "Patient",
        "Patient/",
        "patient/1",
        "P/1",
        "Patient/1/",
        "Patient/a b",
        "Patient/" + "a" * 65,
        "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919",
        "Patient/1/_history/",
    ],
)
def test_normalise_reference_refuses_what_is_not_a_literal_reference(reference: str) -> None:
    assert normalise_reference(reference) is None


def test_a_url_whose_last_segments_are_not_a_resource_type_is_not_a_reference() -> None:
    assert normalise_reference("https://fhir.nhs.uk/Id/nhs-number") is None
    assert normalise_reference("Identifier/abc") is None
    assert normalise_reference("https://example.org/fhir/Bundle/b1") == "Bundle/b1"


def test_the_parameters_on_the_persons_element_are_known_as_such() -> None:
    assert indexes_person("ServiceRequest", "subject")
    assert indexes_person("ServiceRequest", "patient")
    assert indexes_person("Task", "patient")
    assert not indexes_person("ServiceRequest", "requester")
    assert not indexes_person("ServiceRequest", "no-such-parameter")
    assert not indexes_person("Organization", "identifier")
