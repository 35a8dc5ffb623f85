"""What an answer shares with what it answers, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from core.codes import sharing as sharing_codes
from core.handover.answer_links import local_id, references_to, same_subject, with_data_categories
from tests.builders import nhs_identifier


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ({"reference": "ServiceRequest/a-1"}, "a-1"),
        ({"reference": "ServiceRequest/a-1/_history/2"}, None),
        ({"reference": "http://elsewhere/fhir/ServiceRequest/a-1"}, None),
        ({"reference": "Communication/a-1"}, None),
        ({"identifier": {"value": "a-1"}}, None),
        ("ServiceRequest/a-1", None),
    ],
)
def test_only_a_local_reference_of_the_type_names_an_id(
    reference: Any, expected: str | None
) -> None:
    assert local_id(reference, "ServiceRequest") == expected


def test_references_to_keeps_only_the_type_asked_for() -> None:
    resource = {"basedOn": [{"reference": "ServiceRequest/a"}, {"reference": "CarePlan/b"}]}
    assert references_to(resource, "basedOn", "ServiceRequest") == ["a"]


def test_the_subject_is_filled_in_or_must_be_the_same_person() -> None:
    answered = {"subject": {"identifier": nhs_identifier()}}
    answer: dict[str, Any] = {}
    assert same_subject("Task", answer, "for", "ServiceRequest", answered, "subject") == []
    assert answer["for"] == answered["subject"]
    other: dict[str, Any] = {"for": {"identifier": nhs_identifier("9000000009")}}
    (issue,) = same_subject("Task", other, "for", "ServiceRequest", answered, "subject")
    assert issue.expression == "Task.for"
    assert "9000000009" not in issue.diagnostics


def test_data_category_tags_are_inherited_once_and_others_are_not() -> None:
    safeguarding = {"system": sharing_codes.DATA_CATEGORY_SYSTEM, "code": "safeguarding"}
    other = {"system": "https://example.org/tags", "code": "x"}
    answered = {"meta": {"tag": [safeguarding, other]}}
    answer: dict[str, Any] = {"meta": {"tag": [safeguarding]}}
    with_data_categories(answer, answered)
    assert answer["meta"]["tag"] == [safeguarding]
    untagged: dict[str, Any] = {}
    with_data_categories(untagged, answered)
    assert untagged["meta"]["tag"] == [safeguarding]
