"""The configured input rules: text length, an unknown locality, a pathway without a
checklist; all found at once, no value ever repeated. A respond-by in the past is never
one of them: it is a warning, overdue on receipt."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.fhir.issues import IssueCode
from core.handover.dataset import EscalationSummary, Handover
from core.handover.dataset_input import parse_dataset
from core.handover.dataset_rules import DatasetRules, overdue_on_receipt, rule_issues
from tests.paths import EXAMPLES

RULES = DatasetRules(
    max_text_length=100,
    respond_by_tolerance=timedelta(minutes=15),
    localities=frozenset({"north", "south"}),
    pathways=frozenset({"crisis", "referral"}),
)
# The crisis example's respond-by.
RESPOND_BY = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
BEFORE = RESPOND_BY - timedelta(hours=2)
DISTINCTIVE = "Zebrafinch-4471-do-not-echo"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def read(body: dict[str, Any]) -> Handover | EscalationSummary:
    return parse_dataset(body)


def test_the_spec_examples_break_no_rule() -> None:
    assert rule_issues(read(example("handover-crisis")), RULES, BEFORE) == []
    escalation = read(example("escalation-manager"))
    assert rule_issues(escalation, RULES, datetime(2026, 11, 21, 14, 30, tzinfo=UTC)) == []


def test_every_text_field_longer_than_the_limit_is_named_by_its_path() -> None:
    body = example("escalation-manager")
    long = DISTINCTIVE * 4  # 108 characters
    body["current_presentation"] = long
    body["key_risks"][0]["description"] = long
    body["actions_taken"][1]["action"] = long
    body["sender"]["practitioner"] = long
    body["escalation"]["early_warning_indicators"][2] = long
    body["escalation"]["response"] = {"from": long}
    body["patient"]["address"] = {"lines": ["Flat 2", long], "postcode": long}
    issues = rule_issues(read(body), RULES, datetime(2026, 11, 21, 14, 30, tzinfo=UTC))
    assert [issue.expression for issue in issues] == [
        "patient.address.lines[1]",
        "patient.address.postcode",
        "sender.practitioner",
        "current_presentation",
        "key_risks[0].description",
        "actions_taken[1].action",
        "escalation.response.from",
        "escalation.early_warning_indicators[2]",
    ]
    assert {issue.code for issue in issues} == {IssueCode.TOO_LONG}
    for issue in issues:
        assert "100 characters" in issue.diagnostics
        assert DISTINCTIVE not in issue.diagnostics


def test_text_exactly_at_the_limit_is_accepted() -> None:
    body = example("handover-crisis")
    body["current_plan"] = "x" * 100
    assert rule_issues(read(body), RULES, BEFORE) == []
    body["current_plan"] = "x" * 101
    assert [i.expression for i in rule_issues(read(body), RULES, BEFORE)] == ["current_plan"]


@pytest.mark.parametrize("priority", ["emergency", "very-urgent", "urgent", "routine"])
def test_a_respond_by_in_the_past_is_never_refused_whatever_the_priority(priority: str) -> None:
    body = example("handover-crisis")
    body["time_sensitivity"]["priority"] = priority
    handover = read(body)
    assert rule_issues(handover, RULES, RESPOND_BY + timedelta(days=400)) == []


def test_past_the_tolerance_it_is_overdue_on_receipt_as_a_warning() -> None:
    handover = read(example("handover-crisis"))
    at_the_edge = RESPOND_BY + timedelta(minutes=15)
    assert overdue_on_receipt(handover, RULES, at_the_edge) is None
    assert overdue_on_receipt(handover, RULES, BEFORE) is None
    warning = overdue_on_receipt(handover, RULES, at_the_edge + timedelta(seconds=1))
    assert warning is not None
    assert warning.severity == "warning"
    assert warning.code == IssueCode.BUSINESS_RULE
    assert warning.expression == "time_sensitivity.respond_by"
    assert "15 minutes" in warning.diagnostics
    assert "overdue" in warning.diagnostics
    # The time sent is never repeated.
    assert "2026" not in warning.diagnostics
    assert "14:00" not in warning.diagnostics
    with pytest.raises(ValueError, match="aware"):
        overdue_on_receipt(handover, RULES, datetime(2026, 11, 20, 12, 0))


def test_without_a_respond_by_nothing_is_overdue() -> None:
    body = example("handover-crisis")
    del body["time_sensitivity"]["respond_by"]
    assert overdue_on_receipt(read(body), RULES, RESPOND_BY + timedelta(days=1)) is None
    del body["time_sensitivity"]
    assert overdue_on_receipt(read(body), RULES, RESPOND_BY + timedelta(days=1)) is None


def test_an_unknown_locality_lists_the_configured_ones_not_the_value() -> None:
    body = example("handover-crisis")
    body["locality"] = DISTINCTIVE
    issues = rule_issues(read(body), RULES, BEFORE)
    assert len(issues) == 1
    assert issues[0].expression == "locality"
    assert issues[0].code == IssueCode.VALUE
    assert "north, south" in issues[0].diagnostics
    assert DISTINCTIVE not in issues[0].diagnostics
    del body["locality"]
    assert rule_issues(read(body), RULES, BEFORE) == []


def test_a_pathway_without_a_checklist_cannot_be_accepted() -> None:
    body = example("handover-crisis")
    body["pathway"] = "safeguarding"
    issues = rule_issues(read(body), RULES, BEFORE)
    assert [(i.code, i.expression) for i in issues] == [(IssueCode.BUSINESS_RULE, "pathway")]
    assert "crisis, referral" in issues[0].diagnostics


def test_every_broken_rule_is_reported_at_once() -> None:
    body = example("handover-crisis")
    body["pathway"] = "step-up"
    body["locality"] = "east"
    body["what_has_changed"] = "y" * 101
    body["patient"]["name"]["given"] = "z" * 101
    issues = rule_issues(read(body), RULES, RESPOND_BY + timedelta(days=1))
    assert [i.expression for i in issues] == [
        "pathway",
        "locality",
        "patient.name.given",
        "what_has_changed",
    ]
