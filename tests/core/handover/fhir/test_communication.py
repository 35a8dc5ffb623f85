"""The Communication: the handover or escalation itself, from sender to receiver, its
payload in sections in the fixed order of handover_codes.HANDOVER_SECTIONS."""

from __future__ import annotations

from typing import Any

import pytest

from core.codes import common as codes
from core.codes import handover as handover_codes
from core.handover.dataset import EscalationSummary
from core.handover.fhir.dataset import from_fhir
from tests.core.handover.fhir.support import (
    RECEIVED_AT,
    dataset,
    escalation,
    example,
    handover,
    minimal,
    resources,
)
from tests.fhir_judge import assert_valid_fhir

ODS = codes.ODS_ORGANISATION_SYSTEM
ORDER = list(handover_codes.HANDOVER_SECTIONS)


def full_escalation() -> EscalationSummary:
    """An escalation with every field the dataset has, so every section is made."""
    body = example("escalation-manager")
    handover_body = example("handover-crisis")
    body["patient"] = handover_body["patient"]
    body["sender"] = handover_body["sender"]
    body["key_risks"] = handover_body["key_risks"]
    body["legal"] = handover_body["legal"]
    body["escalation"]["response"] = {
        "received_at": "2026-11-21T14:40:00Z",
        "from": "Crisis duty manager",
        "summary": "Home visit at 16:00 by two crisis workers.",
    }
    made = dataset(body)
    assert isinstance(made, EscalationSummary)
    return made


def section_codes(communication: dict[str, Any]) -> list[str]:
    found = []
    for item in communication.get("payload", []):
        (marker,) = [e for e in item["extension"] if e["url"] == handover_codes.EXTENSION_SECTION]
        assert (
            marker["valueCoding"]
            == handover_codes.HANDOVER_SECTIONS[marker["valueCoding"]["code"]].coding()
        )
        found.append(marker["valueCoding"]["code"])
    return found


def is_subsequence(items: list[str], order: list[str]) -> bool:
    positions = [order.index(item) for item in items]
    return positions == sorted(positions)


def section_texts(communication: dict[str, Any], code: str) -> list[str]:
    payload = communication["payload"]
    return [
        item["contentString"] for item in payload if section_codes({"payload": [item]}) == [code]
    ]


@pytest.mark.parametrize(
    "made",
    [handover(), escalation(), full_escalation()],
    ids=["handover", "escalation", "full-escalation"],
)
def test_sections_follow_the_fixed_order(made: Any) -> None:
    found = section_codes(resources(made).communication)
    assert found
    assert is_subsequence(found, ORDER)


def test_every_section_is_made_from_a_full_escalation_in_order() -> None:
    found = section_codes(resources(full_escalation()).communication)
    # Repeated sections (one per risk, action, indicator) collapse to the fixed order.
    assert list(dict.fromkeys(found)) == ORDER
    assert found.count("key-risks") == 2
    assert found.count("action-taken") == 2
    assert found.count("early-warning-indicator") == 3


def test_single_text_sections_hold_exactly_the_dataset_text() -> None:
    communication = resources(escalation()).communication
    assert section_texts(communication, "current-presentation") == [
        "No contact since this morning; not answering door or phone."
    ]
    assert section_texts(communication, "early-warning-indicator") == [
        "missed visit",
        "stopped medication",
        "withdrawal from contact",
    ]
    assert section_texts(communication, "next-action") == [
        "Crisis duty manager to call back by 15:00 with a decision."
    ]


def test_a_handover_is_completed_and_categorised_as_a_handover() -> None:
    communication = resources(handover()).communication
    assert communication["status"] == "completed"
    assert communication["category"] == [
        {"coding": [handover_codes.DATASET_KINDS["handover"].coding()]}
    ]
    assert communication["sent"] == "2026-11-20T12:00:00Z"


def test_an_escalation_without_a_response_is_in_progress() -> None:
    made = escalation()
    assert made.escalation.response is None
    communication = resources(made).communication
    assert communication["status"] == "in-progress"
    assert communication["category"] == [
        {"coding": [handover_codes.DATASET_KINDS["escalation"].coding()]},
        {"coding": [handover_codes.ESCALATION_LEVELS["manager"].coding()]},
    ]
    assert "escalation-response" not in section_codes(communication)


def test_a_minimal_escalation_is_its_level_alone_with_no_payload() -> None:
    communication = resources(dataset(minimal("escalation"))).communication
    assert "payload" not in communication
    assert communication["category"][1]["coding"][0]["system"].endswith("/escalation-level")


def test_an_escalation_with_a_response_is_completed() -> None:
    communication = resources(full_escalation()).communication
    assert communication["status"] == "completed"
    (text,) = section_texts(communication, "escalation-response")
    assert text.endswith("Home visit at 16:00 by two crisis workers.")


def test_an_escalation_is_sent_when_escalated_else_when_received() -> None:
    assert resources(escalation()).communication["sent"] == "2026-11-21T14:10:00Z"
    made = dataset(minimal("escalation"))
    assert resources(made).communication["sent"] == "2026-11-20T12:00:00Z"
    later = RECEIVED_AT.replace(hour=13)
    assert resources(made, received_at=later).communication["sent"] == "2026-11-20T13:00:00Z"


@pytest.mark.parametrize(
    ("escalated_to", "recipients"),
    [
        ({"ods": "RZY", "role": "AMHP lead"}, ["RZZ", "RZY"]),
        ({"ods": "RZZ", "role": "Duty manager"}, ["RZZ"]),
        ({"role": "Duty manager"}, ["RZZ"]),
        (None, ["RZZ"]),
    ],
)
def test_escalated_to_another_organisation_is_an_extra_recipient(
    escalated_to: dict[str, str] | None, recipients: list[str]
) -> None:
    communication = resources(escalation(escalated_to=escalated_to)).communication
    assert communication["recipient"] == [
        {"identifier": {"system": ODS, "value": ods}} for ods in recipients
    ]
    assert communication["sender"] == {"identifier": {"system": ODS, "value": "AZZ"}}


def test_related_referral_is_a_second_based_on_and_round_trips() -> None:
    made = escalation(related_referral="sr-earlier-1")
    built = resources(made)
    assert built.communication["basedOn"] == [
        {"reference": "ServiceRequest/sr-t"},
        {"reference": "ServiceRequest/sr-earlier-1"},
    ]
    back = from_fhir(built.service_request, built.flags, built.communication)
    assert isinstance(back, EscalationSummary)
    assert back.escalation.related_referral == "sr-earlier-1"
    assert back == made


def test_without_related_referral_it_is_based_on_its_own_request_only() -> None:
    communication = resources(escalation()).communication
    assert communication["basedOn"] == [{"reference": "ServiceRequest/sr-t"}]


def test_a_dataset_with_nothing_to_say_has_no_payload() -> None:
    # FHIR JSON has no empty arrays (before the fix: "payload": []).
    communication = resources(dataset(minimal())).communication
    assert "payload" not in communication


def test_entry_sections_carry_the_fields_typed() -> None:
    communication = resources(handover()).communication
    (legal,) = [
        item for item in communication["payload"] if section_codes({"payload": [item]}) == ["legal"]
    ]
    (entry,) = [e for e in legal["extension"] if e["url"] == handover_codes.EXTENSION_DATASET_ENTRY]
    assert entry["extension"] == [
        {"url": "mental_health_act_status", "valueString": "informal"},
        {"url": "capacity_concerns", "valueBoolean": False},
    ]
    assert legal["contentString"] == "Mental Health Act: informal; capacity concerns: no"


def test_the_persons_address_is_a_fhir_address_in_the_person_section_and_reads_back() -> None:
    patient = {
        **example("handover-crisis")["patient"],
        "address": {"lines": ["Flat 2", "14 Example Street"], "postcode": "ZZ99 3VZ"},
    }
    made_from = handover(patient=patient)
    made = resources(made_from)
    (person,) = [
        item
        for item in made.communication["payload"]
        if section_codes({"payload": [item]}) == ["patient"]
    ]
    (entry,) = [
        e for e in person["extension"] if e["url"] == handover_codes.EXTENSION_DATASET_ENTRY
    ]
    assert entry["extension"][-1] == {
        "url": "address",
        "valueAddress": {"line": ["Flat 2", "14 Example Street"], "postalCode": "ZZ99 3VZ"},
    }
    assert person["contentString"] == (
        "Alex Example, born 1994-03-02; address: Flat 2, 14 Example Street, ZZ99 3VZ"
    )
    assert_valid_fhir(made.communication)
    assert from_fhir(made.service_request, made.flags, made.communication) == made_from
    # An address alone is the person section's whole text.
    alone = handover(patient={"nhs_number": "9434765919", "address": {"city": "Exampletown"}})
    (person,) = [
        item
        for item in resources(alone).communication["payload"]
        if section_codes({"payload": [item]}) == ["patient"]
    ]
    assert person["contentString"] == "address: Exampletown"
