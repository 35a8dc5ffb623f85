"""The ServiceRequest: what is asked, of whom, by whom, for whom, how urgently, by when."""

from __future__ import annotations

from typing import get_args

import pytest

from core.codes import common as codes
from core.codes import handover as handover_codes
from core.codes import sharing as sharing_codes
from core.handover.dataset import Priority
from core.handover.fhir.service_request import (
    DATASET_PRIORITY,
    FHIR_PRIORITY,
    checklist_gaps,
    incomplete,
    overdue_on_receipt,
)
from tests.core.handover.fhir.support import (
    dataset,
    example,
    handover,
    minimal,
    resources,
)
from tests.fhir_judge import assert_valid_fhir

ODS = codes.ODS_ORGANISATION_SYSTEM


@pytest.mark.parametrize(
    ("priority", "fhir"),
    [("emergency", "stat"), ("very-urgent", "asap"), ("urgent", "urgent"), ("routine", "routine")],
)
def test_the_priority_is_fhirs_request_priority(priority: str, fhir: str) -> None:
    made = resources(handover(time_sensitivity={"priority": priority}))
    assert made.service_request["priority"] == fhir
    assert made.communication["priority"] == fhir


def test_the_priority_table_covers_every_priority_one_to_one() -> None:
    assert set(FHIR_PRIORITY) == set(get_args(Priority))
    assert {DATASET_PRIORITY[fhir] for fhir in FHIR_PRIORITY.values()} == set(FHIR_PRIORITY)


def test_without_a_priority_there_is_none() -> None:
    made = resources(handover(time_sensitivity={"respond_by": "2026-11-20T14:00:00Z"}))
    assert "priority" not in made.service_request
    assert "priority" not in made.communication


@pytest.mark.parametrize(
    ("respond_by", "end"),
    [
        ("2026-11-20T14:00:00Z", "2026-11-20T14:00:00Z"),
        ("2026-06-20T15:00:00+01:00", "2026-06-20T14:00:00Z"),
        ("2026-06-20T23:30:00.250000-05:30", "2026-06-21T05:00:00.250000Z"),
        ("2026-12-31T23:59+00:00", "2026-12-31T23:59:00Z"),
    ],
)
def test_occurrence_period_end_is_respond_by_in_utc(respond_by: str, end: str) -> None:
    made = resources(handover(time_sensitivity={"priority": "urgent", "respond_by": respond_by}))
    assert made.service_request["occurrencePeriod"] == {"end": end}


def test_without_respond_by_there_is_no_occurrence() -> None:
    made = resources(handover(time_sensitivity={"priority": "urgent"}))
    assert "occurrencePeriod" not in made.service_request


def test_the_identifier_is_the_external_id_assigned_by_the_sender() -> None:
    made = resources(handover(external_id="EPR-2026-000417"))
    assert made.service_request["identifier"] == [
        {
            "system": handover_codes.EXTERNAL_ID_SYSTEM,
            "value": "EPR-2026-000417",
            "assigner": {"identifier": {"system": ODS, "value": "AZZ"}},
        }
    ]


@pytest.mark.parametrize("gaps", [(), ("what_has_changed", "key_risks")])
def test_the_incomplete_tag_is_there_only_when_the_checklist_found_gaps(
    gaps: tuple[str, ...],
) -> None:
    made = resources(handover(), gaps=gaps)
    tags = made.service_request.get("meta", {}).get("tag", [])
    assert (handover_codes.INCOMPLETE.coding() in tags) is bool(gaps)
    assert tags == ([handover_codes.INCOMPLETE.coding()] if gaps else [])
    # Only the request carries it.
    for resource in [*made.flags, made.communication, made.provenance]:
        assert handover_codes.INCOMPLETE.coding() not in resource.get("meta", {}).get("tag", [])


def test_the_gaps_are_carried_on_the_request_in_order_and_read_back() -> None:
    gaps = ("what_has_changed", "sender.contact", "escalation.next_action")
    made = resources(handover(locality="north"), gaps=gaps)
    request = made.service_request
    assert request["extension"] == [
        {"url": handover_codes.EXTENSION_LOCALITY, "valueString": "north"},
        *(
            {
                "url": "https://fhir.mh-gateway.example.org/StructureDefinition/checklist-gap",
                "valueString": gap,
            }
            for gap in gaps
        ),
    ]
    assert checklist_gaps(request) == gaps
    assert incomplete(request)
    assert_valid_fhir(request)
    # A request without gaps names none, and is not tagged.
    complete = resources(handover()).service_request
    assert checklist_gaps(complete) == ()
    assert not incomplete(complete)
    # Whatever else a stored request holds there is ignored.
    odd = {"extension": [{"url": handover_codes.EXTENSION_CHECKLIST_GAP}, "x", {"url": 1}]}
    assert checklist_gaps(odd) == ()
    assert checklist_gaps({"extension": "x"}) == ()


@pytest.mark.parametrize("overdue", [False, True])
def test_a_request_overdue_on_receipt_is_tagged_so_a_trust_pulling_sees_it(overdue: bool) -> None:
    made = resources(handover(), overdue=overdue)
    request = made.service_request
    tag = {
        "system": "https://fhir.mh-gateway.example.org/CodeSystem/timeliness",
        "code": "overdue-on-receipt",
        "display": handover_codes.OVERDUE_ON_RECEIPT.display,
    }
    assert (tag in request.get("meta", {}).get("tag", [])) is overdue
    assert overdue_on_receipt(request) is overdue
    # Only the request carries it; the rest of the mapping is the same.
    for resource in [*made.flags, made.communication, made.provenance]:
        assert tag not in resource.get("meta", {}).get("tag", [])
    assert_valid_fhir(request)


def test_an_incomplete_overdue_safeguarding_concern_carries_every_tag() -> None:
    made = resources(handover(pathway="safeguarding"), gaps=("legal",), overdue=True)
    assert made.service_request["meta"]["tag"] == [
        handover_codes.INCOMPLETE.coding(),
        handover_codes.OVERDUE_ON_RECEIPT.coding(),
        sharing_codes.DATA_CATEGORIES["safeguarding"].coding(),
    ]


def test_routing_by_ods_and_the_person_by_nhs_number() -> None:
    made = resources(handover())
    request = made.service_request
    assert request["requester"] == {"identifier": {"system": ODS, "value": "AZZ"}}
    assert request["performer"] == [{"identifier": {"system": ODS, "value": "RZZ"}}]
    assert request["performerType"] == {"text": "crisis-resolution-home-treatment"}
    identifier = request["subject"]["identifier"]
    assert identifier["system"] == codes.NHS_NUMBER_SYSTEM
    assert identifier["value"] == "9434765919"
    (status,) = identifier["extension"]
    assert status["url"] == handover_codes.EXTENSION_NHS_NUMBER_VERIFICATION
    assert status["valueCodeableConcept"] == {
        "coding": [handover_codes.NHS_NUMBER_VERIFICATION["01"].coding()]
    }


def test_the_request_pathway_locality_and_status() -> None:
    made = resources(handover())
    request = made.service_request
    assert request["status"] == "active"
    assert request["intent"] == "order"
    assert request["category"] == [{"coding": [handover_codes.PATHWAYS["crisis"].coding()]}]
    assert request["code"] == {"coding": [handover_codes.REQUEST_TYPES["crisis-response"].coding()]}
    assert request["note"] == [
        {"text": "Same-day crisis assessment and consideration of home treatment."}
    ]
    assert request["extension"] == [
        {"url": handover_codes.EXTENSION_LOCALITY, "valueString": "north"}
    ]
    assert request["authoredOn"] == "2026-11-20T12:00:00Z"


def test_supporting_info_names_each_flag_then_the_communication() -> None:
    made = resources(handover())
    assert made.service_request["supportingInfo"] == [
        {"reference": "Flag/flag-t-1"},
        {"reference": "Flag/flag-t-2"},
        {"reference": "Communication/comm-t"},
    ]


def test_a_minimal_dataset_leaves_out_what_it_did_not_say() -> None:
    made = resources(dataset(minimal()))
    request = made.service_request
    absent = {"meta", "extension", "code", "priority", "occurrencePeriod", "performerType"}
    assert absent.isdisjoint(request)
    assert "note" not in request
    assert "extension" not in request["subject"]["identifier"]
    assert request["supportingInfo"] == [{"reference": "Communication/comm-t"}]


def test_a_request_type_without_a_summary_has_a_code_and_no_note() -> None:
    body = example("handover-crisis")
    body["request"] = {"type": "advice"}
    request = resources(dataset(body)).service_request
    assert request["code"] == {"coding": [handover_codes.REQUEST_TYPES["advice"].coding()]}
    assert "note" not in request
