"""Zero-width and bidi-control characters: refused in what identifies, kept in free text."""

from __future__ import annotations

import pytest

from core.fhir.invisible_characters import (
    dataset_identifier_issues,
    fhir_identifier_issues,
    has_invisible_character,
)
from core.fhir.issues import IssueCode

NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
INVISIBLE = [chr(code) for code in (*range(0x200B, 0x2010), *range(0x202A, 0x202F))]
INVISIBLE += [chr(code) for code in range(0x2066, 0x206A)]


@pytest.mark.parametrize("character", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_each_invisible_character_is_found(character: str) -> None:
    assert has_invisible_character(f"94347{character}65919")


@pytest.mark.parametrize(
    "character", ["\u00a0", "\u2010", "\u2029", "\u202f", "\u2065", "\u206a", "é", "\u0644"]
)
def test_neighbouring_and_ordinary_characters_are_not(character: str) -> None:
    assert not has_invisible_character(f"a{character}b")


def _service_request(**changes: object) -> dict[str, object]:
    resource: dict[str, object] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "https://example.org/ids", "value": "REF-1"}],
        "subject": {"identifier": {"system": NHS, "value": "9434765919"}},
        "requester": {"identifier": {"system": ODS, "value": "AZZ"}},
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "1234"}]}],
        "note": [{"text": "Said \u202eeno on the phone"}],
        "performerType": {"text": "Crisis\u200bteam"},
    }
    resource.update(changes)
    return resource


def test_free_text_keeps_them() -> None:
    assert fhir_identifier_issues(_service_request(), "ServiceRequest") == []


CASES = {
    "nhs-number": (
        {"subject": {"identifier": {"system": NHS, "value": "94347\u200b65919"}}},
        "ServiceRequest.subject.identifier.value",
    ),
    "ods-code": (
        {"requester": {"identifier": {"system": ODS, "value": "A\u202eZZ"}}},
        "ServiceRequest.requester.identifier.value",
    ),
    "identifier-value": (
        {"identifier": [{"system": "https://example.org/ids", "value": "REF\u2066-1"}]},
        "ServiceRequest.identifier[0].value",
    ),
    "identifier-system": (
        {"identifier": [{"system": "https://example.org/\u200dids", "value": "REF-1"}]},
        "ServiceRequest.identifier[0].system",
    ),
    "reference": (
        {"basedOn": [{"reference": "ServiceRequest/abc\u200c"}]},
        "ServiceRequest.basedOn[0].reference",
    ),
    "code": (
        {"category": [{"coding": [{"system": "http://snomed.info/sct", "code": "12\u200e34"}]}]},
        "ServiceRequest.category[0].coding[0].code",
    ),
    "element-id": (
        {"subject": {"id": "s\u200f1", "reference": "Patient/p"}},
        "ServiceRequest.subject.id",
    ),
    "extension-url": (
        {"extension": [{"url": "https://example.org/\u2069x", "valueString": "x"}]},
        "ServiceRequest.extension[0].url",
    ),
    "extension-code": (
        {"extension": [{"url": "https://example.org/x", "valueCode": "a\u202ab"}]},
        "ServiceRequest.extension[0].valueCode",
    ),
    "extension-identifier": (
        {"extension": [{"url": "https://example.org/x", "valueIdentifier": {"value": "\u200b1"}}]},
        "ServiceRequest.extension[0].valueIdentifier.value",
    ),
    "profile": (
        {"meta": {"profile": ["https://example.org/\u200bp"]}},
        "ServiceRequest.meta.profile",
    ),
}


@pytest.mark.parametrize(("changes", "expression"), CASES.values(), ids=CASES.keys())
def test_an_identifying_element_holding_one_is_named(
    changes: dict[str, object], expression: str
) -> None:
    issues = fhir_identifier_issues(_service_request(**changes), "ServiceRequest")

    assert [issue.expression for issue in issues] == [expression]
    assert issues[0].code is IssueCode.VALUE
    assert "U+200B" in issues[0].diagnostics


def test_entries_of_a_bundle_are_checked() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": _service_request(
                    subject={"identifier": {"system": NHS, "value": "\u200b9434765919"}}
                ),
            }
        ],
    }
    issues = fhir_identifier_issues(bundle, "Bundle")
    assert [issue.expression for issue in issues] == [
        "Bundle.entry[0].resource.subject.identifier.value"
    ]


def _dataset(**changes: object) -> dict[str, object]:
    dataset: dict[str, object] = {
        "dataset": "handover",
        "external_id": "EPR-1",
        "patient": {"nhs_number": "9434765919", "name": {"given": "Al\u200bex"}},
        "sender": {"ods": "AZZ", "team": "Crisis \u202eteam"},
        "receiver": {"ods": "RZZ"},
        "current_presentation": "Low mood \u2067text\u2069",
    }
    dataset.update(changes)
    return dataset


def test_a_datasets_free_text_keeps_them() -> None:
    assert dataset_identifier_issues(_dataset()) == []


DATASET_CASES = {
    "external-id": ({"external_id": "EPR\u200b-1"}, "external_id"),
    "nhs-number": ({"patient": {"nhs_number": "9434765919\u200d"}}, "patient.nhs_number"),
    "sender-ods": ({"sender": {"ods": "\u202dAZZ"}}, "sender.ods"),
    "receiver-ods": ({"receiver": {"ods": "R\u2068ZZ"}}, "receiver.ods"),
    "escalated-to": (
        {"escalation": {"level": "manager", "escalated_to": {"ods": "RZZ\u200e"}}},
        "escalation.escalated_to.ods",
    ),
    "related-referral": (
        {"escalation": {"level": "manager", "related_referral": "abc\u200b"}},
        "escalation.related_referral",
    ),
    "a-local-identifier": (
        {
            "patient": {
                "local_identifier": {"system": "https://azz.example/ids", "value": "L\u200b1"}
            }
        },
        "patient.local_identifier.value",
    ),
}


@pytest.mark.parametrize(
    ("changes", "expression"), DATASET_CASES.values(), ids=DATASET_CASES.keys()
)
def test_a_dataset_identifier_holding_one_is_named(
    changes: dict[str, object], expression: str
) -> None:
    issues = dataset_identifier_issues(_dataset(**changes))
    assert [issue.expression for issue in issues] == [expression]
