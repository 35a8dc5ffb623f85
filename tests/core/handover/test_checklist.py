"""The referral checklist: every gap at once, errors refuse and warnings do not, an
emergency or very-urgent handover is never refused, and no message repeats a value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.fhir.issues import IssueCode
from core.handover.checklist import (
    FIELD_PATHS,
    Checklist,
    Completeness,
    Requirement,
    Severity,
    check_completeness,
    check_field_path,
    completeness_issues,
    field_words,
)
from core.handover.dataset import EscalationSummary, Handover
from core.handover.dataset_input import parse_dataset
from tests.paths import EXAMPLES

# A value no message may ever contain.
DISTINCTIVE = "Zebrafinch-4471-do-not-echo"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def handover(**changes: Any) -> Handover:
    body = example("handover-crisis")
    body.update(changes)
    dataset = parse_dataset(body)
    assert isinstance(dataset, Handover)
    return dataset


def escalation(**changes: Any) -> EscalationSummary:
    """The escalation example, made routine so that its gaps are errors."""
    body = example("escalation-manager")
    body["time_sensitivity"]["priority"] = "routine"
    body["escalation"].update(changes)
    dataset = parse_dataset(body)
    assert isinstance(dataset, EscalationSummary)
    return dataset


def checklist(pathway: str = "crisis", **requirements: Severity) -> Checklist:
    return Checklist(
        pathway,
        tuple(Requirement(field.replace("__", "."), sev) for field, sev in requirements.items()),
    )


CRISIS = checklist(
    current_presentation="error",
    key_risks="error",
    request__summary="error",
    time_sensitivity__respond_by="error",
    what_has_changed="warning",
    sender__contact="warning",
)


def stripped(priority: str | None) -> Handover:
    """The crisis example without three required fields and one asked-for field."""
    body = example("handover-crisis")
    del body["current_presentation"]
    body["key_risks"] = []
    body["request"] = {"type": "crisis-response"}
    del body["sender"]["contact"]
    body["sender"]["team"] = DISTINCTIVE
    body["patient"]["name"]["family"] = DISTINCTIVE
    if priority is None:
        del body["time_sensitivity"]["priority"]
    else:
        body["time_sensitivity"]["priority"] = priority
    dataset = parse_dataset(body)
    assert isinstance(dataset, Handover)
    return dataset


def test_the_spec_example_is_complete_against_the_crisis_checklist() -> None:
    result = check_completeness(handover(), CRISIS)
    assert result == Completeness((), ())
    assert result.complete
    assert result.accepted
    assert completeness_issues(result) == []


@pytest.mark.parametrize("priority", ["urgent", "routine", None])
def test_every_gap_is_listed_at_once(priority: str | None) -> None:
    result = check_completeness(stripped(priority), CRISIS)
    assert [gap.field for gap in result.errors] == [
        "current_presentation",
        "key_risks",
        "request.summary",
    ]
    assert [gap.field for gap in result.warnings] == ["sender.contact"]
    assert not result.accepted
    assert not result.complete
    issues = completeness_issues(result)
    assert [(i.expression, i.severity) for i in issues] == [
        ("current_presentation", "error"),
        ("key_risks", "error"),
        ("request.summary", "error"),
        ("sender.contact", "warning"),
    ]
    assert {issue.code for issue in issues} == {IssueCode.REQUIRED}
    assert "the current presentation" in issues[0].diagnostics
    assert "crisis" in issues[0].diagnostics


@pytest.mark.parametrize("priority", ["emergency", "very-urgent"])
def test_an_emergency_or_very_urgent_handover_is_never_refused(priority: str) -> None:
    result = check_completeness(stripped(priority), CRISIS)
    assert result.errors == ()
    assert [gap.field for gap in result.warnings] == [
        "current_presentation",
        "key_risks",
        "request.summary",
        "sender.contact",
    ]
    assert result.accepted
    assert not result.complete
    assert all(gap.severity == "warning" for gap in result.warnings)
    assert "never refused" in result.warnings[0].message
    assert "never refused" not in result.warnings[3].message
    assert {i.severity for i in completeness_issues(result)} == {"warning"}


def test_no_message_repeats_a_value() -> None:
    result = check_completeness(stripped("routine"), CRISIS)
    for issue in completeness_issues(result):
        assert DISTINCTIVE not in issue.diagnostics
        assert "Example" not in issue.diagnostics


def test_a_field_inside_an_absent_part_is_missing() -> None:
    result = check_completeness(
        handover(time_sensitivity=None, request=None), checklist(request__type="error")
    )
    assert [gap.field for gap in result.errors] == ["request.type"]


def test_false_is_an_answer() -> None:
    body = example("handover-crisis")
    body["legal"] = {"capacity_concerns": False}
    body["time_sensitivity"]["priority"] = "urgent"
    dataset = parse_dataset(body)
    assert isinstance(dataset, Handover)
    result = check_completeness(
        dataset,
        checklist(legal__capacity_concerns="error", legal__mental_health_act_status="error"),
    )
    assert [gap.field for gap in result.errors] == ["legal.mental_health_act_status"]


def test_escalation_requirements_apply_to_escalation_summaries_only() -> None:
    rules = checklist(escalation__next_action="error", escalation__response__from="warning")
    assert check_completeness(handover(), rules).complete
    complete = escalation(response={"from": "Duty manager", "summary": "Visit at 16:00"})
    assert check_completeness(complete, rules).complete
    result = check_completeness(escalation(next_action=None), rules)
    assert [gap.field for gap in result.errors] == ["escalation.next_action"]
    assert [gap.field for gap in result.warnings] == ["escalation.response.from"]


def test_an_empty_list_of_indicators_is_missing() -> None:
    rules = checklist(escalation__early_warning_indicators="error")
    result = check_completeness(escalation(early_warning_indicators=[]), rules)
    assert [gap.field for gap in result.errors] == ["escalation.early_warning_indicators"]


def test_a_checklist_for_another_pathway_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="another pathway"):
        check_completeness(handover(), checklist("referral", current_plan="error"))


def test_a_misspelt_field_cannot_be_required() -> None:
    with pytest.raises(ValueError, match="did you mean current_presentation"):
        Requirement("curent_presentation", "error")
    with pytest.raises(ValueError, match="not a field"):
        check_field_path("key_risks.description")  # items of a list are not named
    with pytest.raises(ValueError, match="severity"):
        Requirement("current_plan", "fatal")  # type: ignore[arg-type]
    assert check_field_path("escalation.response.from") == "escalation.response.from"


@pytest.mark.parametrize(
    "field", ["patient.nhs_number", "patient.local_identifier", "patient.local_identifier.system"]
)
@pytest.mark.parametrize("severity", ["error", "warning"])
def test_who_the_person_is_is_not_a_checklist_field(field: str, severity: str) -> None:
    """An NHS number, or a local identifier for a person with none yet, is the dataset's
    own rule: no checklist can refuse a crisis for lacking an NHS number."""
    with pytest.raises(ValueError, match="never refused for lacking an NHS number"):
        Requirement(field, severity)  # type: ignore[arg-type]
    assert Requirement("patient.nhs_number_status", severity)  # type: ignore[arg-type]


def test_fields_are_named_in_words() -> None:
    assert field_words("time_sensitivity.respond_by") == "the respond-by time"
    assert field_words("escalation.response.received_at") == "when the response was received"


# Fields a handover with nothing but its identity and priority lacks.
ABSENT_IN_MINIMAL = [
    path
    for path in FIELD_PATHS
    if path.split(".")[0]
    not in ("dataset", "external_id", "pathway", "patient", "escalation", "time_sensitivity")
    and path not in ("sender", "sender.ods", "receiver", "receiver.ods")
] + ["time_sensitivity.respond_by"]


def minimal(priority: str) -> Handover:
    dataset = parse_dataset(
        {
            "dataset": "handover",
            "external_id": "X-1",
            "pathway": "crisis",
            "patient": {"nhs_number": "9434765919"},
            "sender": {"ods": "AZZ"},
            "receiver": {"ods": "RZZ"},
            "time_sensitivity": {"priority": priority},
        }
    )
    assert isinstance(dataset, Handover)
    return dataset


@given(
    requirements=st.dictionaries(
        st.sampled_from(ABSENT_IN_MINIMAL), st.sampled_from(["error", "warning"]), min_size=1
    ),
    priority=st.sampled_from(["emergency", "very-urgent", "urgent", "routine"]),
)
def test_every_missing_field_is_one_gap_and_urgency_only_moves_errors_to_warnings(
    requirements: dict[str, Severity], priority: str
) -> None:
    rules = Checklist("crisis", tuple(Requirement(f, s) for f, s in requirements.items()))
    result = check_completeness(minimal(priority), rules)
    gaps = [*result.errors, *result.warnings]
    assert sorted(gap.field for gap in gaps) == sorted(requirements)
    if priority in ("emergency", "very-urgent"):
        assert result.accepted
    else:
        assert [g.field for g in result.errors] == [
            f for f, severity in requirements.items() if severity == "error"
        ]
