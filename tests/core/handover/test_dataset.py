"""The handover and escalation datasets read as the spec names them: identity, codes and
instants validated, every problem reported at once, and nothing sent ever repeated."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from core.fhir.issues import ContentError, Issue, IssueCode
from core.handover.dataset import EscalationSummary, Handover
from core.handover.dataset_input import parse_dataset
from tests.paths import EXAMPLES

# The spec's examples (../shared/spec/examples), kept in the repository's examples/ so that
# a checkout alone runs the tests and integrators find them.


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def problems(body: dict[str, Any]) -> list[Issue]:
    with pytest.raises(ContentError) as raised:
        parse_dataset(body)
    return raised.value.issues


def test_the_spec_examples_read_as_their_datasets() -> None:
    handover = parse_dataset(example("handover-crisis"))
    assert isinstance(handover, Handover)
    assert handover.patient.nhs_number == "9434765919"
    assert handover.key_risks[1].type == "exploitation"
    assert handover.time_sensitivity is not None
    assert handover.time_sensitivity.priority == "very-urgent"
    escalation = parse_dataset(example("escalation-manager"))
    assert isinstance(escalation, EscalationSummary)
    assert escalation.escalation.level == "manager"
    assert escalation.escalation.early_warning_indicators[0] == "missed visit"


def test_a_dataset_is_immutable() -> None:
    handover = parse_dataset(example("handover-crisis"))
    with pytest.raises(ValidationError):
        handover.pathway = "referral"  # type: ignore[misc]


def test_instants_keep_their_moment_and_are_held_in_utc() -> None:
    body = example("handover-crisis")
    body["time_sensitivity"]["respond_by"] = "2026-06-20T15:00:00+01:00"
    handover = parse_dataset(body)
    assert handover.time_sensitivity is not None
    respond_by = handover.time_sensitivity.respond_by
    assert respond_by == datetime(2026, 6, 20, 14, 0, tzinfo=UTC)
    assert respond_by is not None
    assert respond_by.utcoffset() is not None
    assert respond_by.tzinfo is UTC


def test_an_instant_without_its_offset_is_refused() -> None:
    body = example("handover-crisis")
    body["actions_taken"][0]["at"] = "2026-11-20T09:40:00"
    (issue,) = problems(body)
    assert issue.expression == "actions_taken[0].at"
    assert "timezone" in issue.diagnostics


@pytest.mark.parametrize("number", ["9434765918", "943476591", "0000000000", "94347659I9"])
def test_an_nhs_number_must_pass_modulus_11(number: str) -> None:
    body = example("handover-crisis")
    body["patient"]["nhs_number"] = number
    (issue,) = problems(body)
    assert issue.expression == "patient.nhs_number"
    assert "Modulus 11" in issue.diagnostics
    assert number not in issue.diagnostics


@pytest.mark.parametrize("status", ["01", "05", "08"])
def test_each_uk_core_verification_status_is_accepted(status: str) -> None:
    body = example("handover-crisis")
    body["patient"]["nhs_number_status"] = status
    assert parse_dataset(body).patient.nhs_number_status == status


def test_another_verification_status_is_refused_with_the_allowed_ones() -> None:
    body = example("handover-crisis")
    body["patient"]["nhs_number_status"] = "09"
    (issue,) = problems(body)
    assert issue.expression == "patient.nhs_number_status"
    assert "'01'" in issue.diagnostics
    assert "'08'" in issue.diagnostics


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (("pathway",), "'referral', 'step-up', 'crisis', 'discharge-follow-up' or 'safeguarding'"),
        (("key_risks", 0, "type"), "'self-harm'"),
        (("key_risks", 0, "level"), "'low', 'medium' or 'high'"),
        (("request", "type"), "'crisis-response'"),
        (("time_sensitivity", "priority"), "'emergency', 'very-urgent', 'urgent' or 'routine'"),
        (("sharing", "basis"), "'direct-care-implied', 'explicit-consent' or 'safeguarding'"),
    ],
)
def test_an_enumeration_error_lists_the_allowed_values(
    path: tuple[str | int, ...], allowed: str
) -> None:
    body = example("handover-crisis")
    node: Any = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = "Bogus-Value-7"
    (issue,) = problems(body)
    assert issue.code == IssueCode.VALUE
    assert allowed in issue.diagnostics
    assert "Bogus-Value-7" not in issue.diagnostics


def test_the_escalation_ladder_level_is_an_enumeration() -> None:
    body = example("escalation-manager")
    body["escalation"]["level"] = "director"
    (issue,) = problems(body)
    assert issue.expression == "escalation.level"
    assert "'front-line', 'manager' or 'senior'" in issue.diagnostics


@pytest.mark.parametrize(("party"), ["sender", "receiver"])
def test_an_ods_code_must_have_its_shape(party: str) -> None:
    body = example("handover-crisis")
    body[party]["ods"] = "rzz"
    (issue,) = problems(body)
    assert issue.expression == f"{party}.ods"
    assert "ODS code" in issue.diagnostics


def test_every_problem_is_reported_at_once() -> None:
    body = example("handover-crisis")
    del body["patient"]["nhs_number"]
    del body["sender"]["ods"]
    del body["receiver"]
    body["external_id"] = ""
    found = {(issue.code, issue.expression) for issue in problems(body)}
    assert found == {
        (IssueCode.REQUIRED, "patient.nhs_number"),
        (IssueCode.REQUIRED, "sender.ods"),
        (IssueCode.REQUIRED, "receiver"),
        (IssueCode.VALUE, "external_id"),
    }


@pytest.mark.parametrize(
    ("where", "parent", "defined"),
    [
        ((), None, "external_id, pathway, locality, patient"),
        (
            ("patient",),
            "patient",
            "local_identifier, nhs_number, nhs_number_status, name, birth_date",
        ),
        (("key_risks", 0), "key_risks[0]", "type, level, description, since"),
    ],
)
def test_an_unknown_field_is_refused_at_its_parent_without_its_name(
    where: tuple[str | int, ...], parent: str | None, defined: str
) -> None:
    body = example("handover-crisis")
    node: Any = body
    for step in where:
        node = node[step]
    node["Alex_Example_1994"] = "x"
    (issue,) = problems(body)
    assert issue.code == IssueCode.STRUCTURE
    assert issue.expression == parent
    assert defined in issue.diagnostics
    assert "Alex_Example_1994" not in issue.diagnostics


def test_an_escalation_field_in_a_handover_is_unknown() -> None:
    body = example("handover-crisis")
    body["escalation"] = example("escalation-manager")["escalation"]
    (issue,) = problems(body)
    assert issue.code == IssueCode.STRUCTURE
    assert issue.expression is None


@pytest.mark.parametrize(
    ("value", "code"), [(None, IssueCode.REQUIRED), ("handoff", IssueCode.VALUE)]
)
def test_the_dataset_must_say_which_it_is(value: str | None, code: IssueCode) -> None:
    body = example("handover-crisis")
    if value is None:
        del body["dataset"]
    else:
        body["dataset"] = value
    (issue,) = problems(body)
    assert (issue.code, issue.expression) == (code, "dataset")
    assert "handover, escalation" in issue.diagnostics
    assert "handoff" not in issue.diagnostics


def test_a_fhir_resource_sent_as_a_dataset_is_refused() -> None:
    (issue,) = problems({"resourceType": "ServiceRequest", "status": "active"})
    assert issue.code == IssueCode.NOT_SUPPORTED
    assert "$process-message" in issue.diagnostics


def test_an_escalation_response_is_read_from_its_from_field() -> None:
    body = example("escalation-manager")
    body["escalation"]["response"] = {
        "received_at": "2026-11-21T14:52:00Z",
        "from": "Crisis duty manager",
        "summary": "Home visit at 15:30 agreed.",
    }
    summary = parse_dataset(body)
    assert isinstance(summary, EscalationSummary)
    response = summary.escalation.response
    assert response is not None
    assert response.from_ == "Crisis duty manager"
    dumped = summary.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["escalation"]["response"]["from"] == "Crisis duty manager"


def test_no_value_sent_is_repeated_in_any_problem() -> None:
    marker = "9434765918"
    body = copy.deepcopy(example("escalation-manager"))
    body["patient"]["nhs_number"] = marker
    body["patient"]["birth_date"] = marker
    body["key_risks"][0]["since"] = marker
    body["escalation"]["escalated_at"] = marker
    body["time_sensitivity"]["priority"] = marker
    issues = problems(body)
    assert len(issues) == 5
    assert all(marker not in issue.diagnostics for issue in issues)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("time_sensitivity", "respond_by"), 1732200000),
        (("time_sensitivity", "respond_by"), "1732200000"),
        (("time_sensitivity", "respond_by"), "20/11/2026 14:00"),
        (("key_risks", 0, "since"), "19/11/2026"),
        (("key_risks", 0, "since"), 20261119),
    ],
)
def test_dates_and_instants_are_iso_8601_text_only(path: tuple[str | int, ...], value: Any) -> None:
    body = example("handover-crisis")
    node: Any = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    (issue,) = problems(body)
    assert "ISO 8601" in issue.diagnostics


# --- The person's address (optional, for a home visit) -------------------------------------


def test_the_persons_address_is_read_as_lines_a_town_and_a_postcode() -> None:
    body = example("handover-crisis")
    body["patient"]["address"] = {
        "lines": [" Flat 2 ", "14\u00a0Example Street"],
        "city": "Exampletown",
        "postcode": "ZZ99 3VZ",
    }
    address = parse_dataset(body).patient.address
    assert address is not None
    # Free text as any other: trimmed, a non-breaking space made a plain one.
    assert address.lines == ("Flat 2", "14 Example Street")
    assert (address.city, address.postcode) == ("Exampletown", "ZZ99 3VZ")
    # Any part may be given alone; an empty address says nothing, as leaving it out does.
    body["patient"]["address"] = {"postcode": "ZZ99 3VZ"}
    only = parse_dataset(body).patient.address
    assert only is not None
    assert only.lines == ()
    body["patient"]["address"] = {"lines": []}
    assert parse_dataset(body).patient.address is None


@pytest.mark.parametrize(
    ("address", "expression"),
    [
        ({"lines": ["Flat 2", " "]}, "patient.address.lines[1]"),
        ({"city": "Example\x00town"}, "patient.address.city"),
        ({"postcode": 1234}, "patient.address.postcode"),
        ({"line": ["Flat 2"]}, "patient.address"),
        ("14 Example Street", "patient.address"),
    ],
)
def test_a_malformed_address_is_refused_naming_the_part(address: Any, expression: str) -> None:
    body = example("handover-crisis")
    body["patient"]["address"] = address
    assert [issue.expression for issue in problems(body)] == [expression]
