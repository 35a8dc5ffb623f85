"""The rules for a Task that answers a referral, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from core.codes import handover as handover_codes
from core.codes import sharing as sharing_codes
from core.fhir.issues import ContentError
from core.handover.referral_tasks import answering_task, focus_id, task_decision
from tests.builders import nhs_identifier, ods_reference, service_request

REASONS = {"capacity": "No capacity", "other": "Another reason"}


def request() -> dict[str, Any]:
    return {"id": "sr-1", **service_request()}


def task(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": "accepted",
        "intent": "order",
        "focus": {"reference": "ServiceRequest/sr-1"},
        "owner": ods_reference("RZZ"),
        **extra,
    }


def decline(code: str, **coding: str) -> dict[str, Any]:
    return {"coding": [{"system": handover_codes.DECLINE_REASON_SYSTEM, "code": code, **coding}]}


def expressions(error: pytest.ExceptionInfo[ContentError]) -> list[str | None]:
    return [issue.expression for issue in error.value.issues]


def test_links_left_out_are_filled_in_from_the_request() -> None:
    answered = answering_task(task(), request(), REASONS)
    assert answered["basedOn"] == [{"reference": "ServiceRequest/sr-1"}]
    assert answered["requester"] == ods_reference("AZZ")
    assert answered["for"] == {"identifier": nhs_identifier()}


def test_a_decline_gets_its_configured_display() -> None:
    answered = answering_task(
        task(status="rejected", statusReason=decline("capacity")), request(), REASONS
    )
    assert answered["statusReason"]["coding"][0]["display"] == "No capacity"


@pytest.mark.parametrize(
    ("extra", "expression"),
    [
        ({"status": "rejected"}, "Task.statusReason"),
        ({"status": "rejected", "statusReason": decline("busy")}, "Task.statusReason"),
        (
            {"status": "rejected", "statusReason": decline("capacity", display="x")},
            "Task.statusReason",
        ),
        ({"statusReason": decline("capacity")}, "Task.statusReason"),
        ({"status": "draft"}, "Task.status"),
        ({"basedOn": [{"reference": "ServiceRequest/sr-2"}]}, "Task.basedOn"),
        ({"requester": ods_reference("RXX")}, "Task.requester"),
        ({"for": {"identifier": nhs_identifier("9000000009")}}, "Task.for"),
    ],
)
def test_each_broken_rule_names_its_element(extra: dict[str, Any], expression: str) -> None:
    with pytest.raises(ContentError) as error:
        answering_task(task(**extra), request(), REASONS)
    assert expressions(error) == [expression]
    assert error.value.business_rule


def test_every_broken_rule_is_reported_at_once_without_values() -> None:
    body = task(status="rejected", requester=ods_reference("RXX"), basedOn=[])
    with pytest.raises(ContentError) as error:
        answering_task(body, request(), REASONS)
    assert expressions(error) == ["Task.basedOn", "Task.statusReason", "Task.requester"]
    assert "capacity, other" in error.value.issues[1].diagnostics
    assert all("RXX" not in issue.diagnostics for issue in error.value.issues)


@pytest.mark.parametrize(
    "focus",
    [None, {"reference": "Patient/p"}, {"reference": "https://x/ServiceRequest/1"}, "sr-1"],
)
def test_the_focus_must_be_a_local_service_request(focus: Any) -> None:
    with pytest.raises(ContentError) as error:
        focus_id({"focus": focus})
    assert expressions(error) == ["Task.focus"]


def test_the_input_is_not_changed() -> None:
    body = task()
    answering_task(body, request(), REASONS)
    assert "basedOn" not in body


def test_a_safeguarding_tag_on_the_request_is_carried_onto_the_task() -> None:
    tag = {"system": sharing_codes.DATA_CATEGORY_SYSTEM, "code": "safeguarding"}
    tagged = {**request(), "meta": {"tag": [tag]}}
    assert answering_task(task(), tagged, REASONS)["meta"]["tag"] == [tag]


def test_the_decision_shown_to_the_referrer() -> None:
    stored = {
        **task(status="rejected", statusReason=decline("other", display="Another reason")),
        "id": "t-1",
        "meta": {"lastUpdated": "2026-11-30T10:00:00Z"},
    }
    assert task_decision(stored).as_json() == {
        "task": "Task/t-1",
        "status": "rejected",
        "decision": "declined",
        "by": "RZZ",
        "at": "2026-11-30T10:00:00Z",
        "reason": {
            "system": handover_codes.DECLINE_REASON_SYSTEM,
            "code": "other",
            "display": "Another reason",
        },
    }
    assert task_decision({**stored, "status": "in-progress"}).decision == "accepted"
