"""What the decision point learns from a resource, and the resource without free text."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from core.sharing.facts import (
    SharedData,
    data_category,
    made_at,
    security_labels,
    shared_data,
    without_free_text,
)
from tests.builders import CATEGORY, communication, flag, service_request
from tests.fhir_judge import assert_valid_fhir

DATA_CATEGORY = "https://fhir.mh-gateway.example.org/CodeSystem/data-category"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
REDACTED = {"system": OBSERVATION_VALUE, "code": "REDACTED", "display": "redacted"}
NARRATIVE = {
    "status": "generated",
    "div": '<div xmlns="http://www.w3.org/1999/xhtml">Alex said they felt unsafe</div>',
}


def tagged(resource: dict[str, Any], *codes: str, system: str = DATA_CATEGORY) -> dict[str, Any]:
    return {**resource, "meta": {"tag": [{"system": system, "code": code} for code in codes]}}


def category(*codes: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"coding": [{"system": system, "code": code}]} for system, code in codes]


def labelled(resource: dict[str, Any], *labels: dict[str, str]) -> dict[str, Any]:
    return {**resource, "meta": {"security": list(labels)}}


# -- data category ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "resource", "expected"),
    [
        pytest.param("Flag", flag(), "risk-flag", id="flag-is-a-risk-flag"),
        pytest.param("ServiceRequest", service_request(), "referral", id="service-request"),
        pytest.param("Task", {"resourceType": "Task"}, "referral", id="task"),
        pytest.param("AuditEvent", {"resourceType": "AuditEvent"}, "audit", id="audit-event"),
        pytest.param("Communication", communication(), "escalation", id="escalation-category"),
        pytest.param(
            "Communication",
            communication(category="handover-note"),
            "referral",
            id="communication-in-another-category",
        ),
        pytest.param(
            "Communication",
            {"resourceType": "Communication", "status": "completed"},
            "referral",
            id="communication-without-category",
        ),
        pytest.param(
            "ServiceRequest",
            service_request(category=category((CATEGORY, "escalation"))),
            "referral",
            id="only-a-communication-escalates-by-its-category",
        ),
        pytest.param(
            "Communication",
            {
                **communication(),
                "category": category((CATEGORY, "escalation"), (DATA_CATEGORY, "risk-flag")),
            },
            "risk-flag",
            id="data-category-in-category-decides-over-escalation",
        ),
        pytest.param(
            "Flag", tagged(flag(), "referral"), "referral", id="tag-decides-over-the-type"
        ),
        pytest.param(
            "ServiceRequest",
            tagged(service_request(), "safeguarding"),
            "safeguarding",
            id="tag-safeguarding",
        ),
        pytest.param(
            "Communication",
            tagged(communication(), "referral", "safeguarding", "escalation"),
            "safeguarding",
            id="safeguarding-tag-wins-over-other-tags",
        ),
        pytest.param(
            "Flag",
            {
                **tagged(flag(), "risk-flag"),
                "category": category((DATA_CATEGORY, "safeguarding")),
            },
            "safeguarding",
            id="safeguarding-category-wins-over-tag",
        ),
        pytest.param(
            "Communication",
            {
                **tagged(communication(), "safeguarding"),
                "category": category((DATA_CATEGORY, "referral")),
            },
            "safeguarding",
            id="safeguarding-tag-wins-over-category",
        ),
        pytest.param(
            "Flag",
            tagged(flag(), "safeguarding", system="http://example.org/tags"),
            "risk-flag",
            id="tag-in-another-system-ignored",
        ),
        pytest.param(
            "Flag",
            tagged(flag(), "urgent"),
            "risk-flag",
            id="unknown-data-category-code-ignored",
        ),
        pytest.param(
            "Flag",
            {**flag(), "meta": "not-an-object", "category": "nor-this"},
            "risk-flag",
            id="malformed-meta-and-category",
        ),
    ],
)
def test_data_category(resource_type: str, resource: dict[str, Any], expected: str) -> None:
    assert data_category(resource_type, resource) == expected


# -- security labels -------------------------------------------------------------------


def test_security_labels_are_system_and_code_pairs() -> None:
    resource = labelled(
        service_request(),
        {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"},
        {"code": "LOCAL"},
        {"system": CONFIDENTIALITY},
        {"system": CONFIDENTIALITY, "code": 7},
    )
    assert security_labels(resource) == frozenset({(CONFIDENTIALITY, "R"), ("", "LOCAL")})


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param(service_request(), id="no-meta"),
        pytest.param({**service_request(), "meta": {"versionId": "1"}}, id="no-security"),
        pytest.param({**service_request(), "meta": {"security": "R"}}, id="security-not-a-list"),
        pytest.param({**service_request(), "meta": ["R"]}, id="meta-not-an-object"),
    ],
)
def test_no_security_labels(resource: dict[str, Any]) -> None:
    assert security_labels(resource) == frozenset()


# -- when it was made --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "resource", "expected"),
    [
        pytest.param(
            "ServiceRequest",
            service_request(authoredOn="2026-11-20T10:00:00Z"),
            datetime(2026, 11, 20, 10, tzinfo=UTC),
            id="service-request-authored-on",
        ),
        pytest.param(
            "Communication",
            communication(sent="2026-11-20T11:30:00+01:00"),
            datetime(2026, 11, 20, 10, 30, tzinfo=UTC),
            id="communication-sent-in-utc",
        ),
        pytest.param(
            "Flag", flag(), datetime(2026, 11, 19, tzinfo=UTC), id="flag-period-start-date-only"
        ),
        pytest.param(
            "Task",
            {"resourceType": "Task", "authoredOn": "2026-11-21T08:00:00Z"},
            datetime(2026, 11, 21, 8, tzinfo=UTC),
            id="task-authored-on",
        ),
        pytest.param(
            "Consent",
            {"resourceType": "Consent", "dateTime": "2026-11"},
            datetime(2026, 11, 1, tzinfo=UTC),
            id="consent-date-time-month",
        ),
        pytest.param(
            "Provenance",
            {"resourceType": "Provenance", "recorded": "2026-11-22T09:15:00.250Z"},
            datetime(2026, 11, 22, 9, 15, 0, 250000, tzinfo=UTC),
            id="provenance-recorded",
        ),
        pytest.param(
            "Flag",
            {**flag(), "period": {"end": "2026-12-01"}},
            None,
            id="flag-without-start",
        ),
        pytest.param(
            "ServiceRequest",
            {k: v for k, v in service_request().items() if k != "authoredOn"},
            None,
            id="missing",
        ),
        pytest.param(
            "ServiceRequest", service_request(authoredOn="last Tuesday"), None, id="malformed"
        ),
        pytest.param("Communication", communication(sent=20261120), None, id="not-a-string"),
        pytest.param(
            "Flag", {**flag(), "period": "2026-11-19"}, None, id="flag-period-not-an-object"
        ),
        pytest.param(
            "Patient",
            {"resourceType": "Patient", "birthDate": "1994-03-02"},
            None,
            id="type-without-a-made-date",
        ),
        pytest.param(
            "Communication",
            {"resourceType": "Communication", "authoredOn": "2026-11-20T10:00:00Z"},
            None,
            id="another-types-element-not-read",
        ),
    ],
)
def test_made_at(resource_type: str, resource: dict[str, Any], expected: datetime | None) -> None:
    assert made_at(resource_type, resource) == expected


def test_shared_data_gathers_everything() -> None:
    resource = labelled(communication(), {"system": CONFIDENTIALITY, "code": "R"})
    assert shared_data("Communication", resource, "9434765919") == SharedData(
        category="escalation",
        patient="9434765919",
        security_labels=frozenset({(CONFIDENTIALITY, "R")}),
        made_at=datetime(2026, 11, 20, 10, 30, tzinfo=UTC),
    )


def test_the_patient_is_the_one_established_never_read_again_from_the_content() -> None:
    """How the content names the person is decided once, when it is written
    (core.fhir.patients); shared_data takes that answer as given."""
    resource = {**service_request(), "subject": {"reference": "Patient/1"}}
    assert shared_data("ServiceRequest", resource, "9434765919").patient == "9434765919"
    assert shared_data("ServiceRequest", service_request(), None).patient is None


# -- without free text -------------------------------------------------------------------


def chatty_communication() -> dict[str, Any]:
    return communication(
        text=NARRATIVE,
        note=[{"text": "Mother called twice"}],
        payload=[
            {"contentString": "I am worried about Alex tonight"},
            {"contentReference": {"reference": "DocumentReference/risk-assessment"}},
            {"contentString": "Please call back"},
        ],
        meta={
            "versionId": "3",
            "lastUpdated": "2026-11-20T10:30:05Z",
            "tag": [{"system": DATA_CATEGORY, "code": "escalation"}],
            "security": [{"system": CONFIDENTIALITY, "code": "R"}],
        },
    )


def test_free_text_and_string_payloads_are_withheld() -> None:
    resource = chatty_communication()

    withheld = without_free_text(resource)

    for element in ("text", "note"):
        assert element not in withheld
    assert withheld["payload"] == [
        {"contentReference": {"reference": "DocumentReference/risk-assessment"}}
    ]
    kept = {k: v for k, v in resource.items() if k not in ("text", "note", "payload", "meta")}
    assert {k: v for k, v in withheld.items() if k in kept} == kept
    assert withheld["meta"]["versionId"] == "3"
    assert withheld["meta"]["tag"] == resource["meta"]["tag"]
    assert withheld["meta"]["security"] == [{"system": CONFIDENTIALITY, "code": "R"}, REDACTED]


def test_every_free_text_element_is_withheld() -> None:
    resource = service_request(
        text=NARRATIVE,
        note=[{"text": "Known to the crisis team"}],
        patientInstruction="Attend with a carer",
        description="Urgent",
        comment="Seen before",
    )

    withheld = without_free_text(resource)

    for element in ("text", "note", "patientInstruction", "description", "comment"):
        assert element not in withheld
    assert withheld["subject"] == resource["subject"]
    assert withheld["authoredOn"] == resource["authoredOn"]


def test_payload_of_strings_only_is_removed() -> None:
    resource = communication(payload=[{"contentString": "a"}, {"contentString": "b"}])
    assert "payload" not in without_free_text(resource)


def test_payload_without_strings_is_kept() -> None:
    payload = [{"contentAttachment": {"contentType": "application/pdf", "url": "Binary/1"}}]
    assert without_free_text(communication(payload=payload))["payload"] == payload


def test_the_redacted_label_is_added_once() -> None:
    resource = labelled(service_request(), REDACTED, {"system": CONFIDENTIALITY, "code": "N"})

    once = without_free_text(resource)
    twice = without_free_text(once)

    assert once["meta"]["security"] == [{"system": CONFIDENTIALITY, "code": "N"}, REDACTED]
    assert twice == once


def test_the_redacted_label_is_added_without_meta() -> None:
    withheld = without_free_text(service_request())
    assert withheld["meta"] == {"security": [REDACTED]}


def test_the_input_is_not_changed() -> None:
    resource = chatty_communication()
    before = copy.deepcopy(resource)

    withheld = without_free_text(resource)
    withheld["meta"]["security"].append({"code": "X"})
    withheld["payload"].append({"contentString": "x"})

    assert resource == before


def test_a_communication_without_free_text_is_still_valid_fhir() -> None:
    resource = chatty_communication()
    assert_valid_fhir(resource)

    withheld = without_free_text(resource)

    assert_valid_fhir(withheld)


def test_a_communication_whose_payload_was_all_text_is_still_valid_fhir() -> None:
    resource = communication(text=NARRATIVE, payload=[{"contentString": "only text"}])
    assert_valid_fhir(resource)

    withheld = without_free_text(resource)

    assert "payload" not in withheld
    assert_valid_fhir(withheld)


def test_a_service_request_without_free_text_is_still_valid_fhir() -> None:
    resource = service_request(
        text=NARRATIVE,
        note=[{"text": "Known to the crisis team"}],
        patientInstruction="Attend with a carer",
    )
    assert_valid_fhir(resource)

    assert_valid_fhir(without_free_text(resource))
