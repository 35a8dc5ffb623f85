"""Who may write a new version of a record, and that no version changes whom it is about."""

from __future__ import annotations

from typing import Any

import pytest

from core.fhir.authorship import SUBJECT_ELEMENTS, is_author, subject_change_issues
from tests.builders import (
    OTHER_NHS_NUMBER,
    PATIENT_NHS_NUMBER,
    flag,
    nhs_identifier,
    service_request,
)


def test_only_the_origin_is_the_author_and_an_unknown_origin_is_nobodys() -> None:
    assert is_author("AZZ", "AZZ")
    assert not is_author("AZZ", "RZZ")
    assert not is_author(None, "AZZ")


def test_the_same_person_is_no_change() -> None:
    before = service_request()
    after = {**before, "status": "completed"}
    assert (
        subject_change_issues(
            "ServiceRequest", before, PATIENT_NHS_NUMBER, after, PATIENT_NHS_NUMBER
        )
        == []
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (PATIENT_NHS_NUMBER, OTHER_NHS_NUMBER),
        (PATIENT_NHS_NUMBER, None),
        (None, PATIENT_NHS_NUMBER),
    ],
)
def test_another_person_is_refused_at_the_patient_element(
    before: str | None, after: str | None
) -> None:
    (issue,) = subject_change_issues("Flag", flag(), before, flag(), after)
    assert issue.expression == "Flag.subject"
    assert "entered-in-error" in issue.diagnostics
    assert PATIENT_NHS_NUMBER not in issue.diagnostics
    assert OTHER_NHS_NUMBER not in issue.diagnostics


def test_without_a_patient_fact_the_element_itself_must_stay() -> None:
    before: dict[str, Any] = {**flag(), "subject": {"display": "Someone"}}
    assert subject_change_issues("Flag", before, None, dict(before), None) == []
    moved = {**before, "subject": {"identifier": nhs_identifier("x")}}
    assert subject_change_issues("Flag", before, None, moved, None)


def test_every_type_with_a_person_names_its_element_and_others_have_none() -> None:
    assert SUBJECT_ELEMENTS["Task"] == "for"
    assert SUBJECT_ELEMENTS["Consent"] == "patient"
    assert subject_change_issues("Organization", {}, None, {"name": "x"}, None) == []
