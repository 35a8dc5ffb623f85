"""The rules for a Communication that responds to another, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.fhir.issues import ContentError
from core.handover.referral_responses import (
    answered_id,
    escalation_response,
    is_escalation_summary,
    linked_response,
    response_summary,
)
from tests.builders import communication, nhs_identifier, ods_reference

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=15)


def summary() -> dict[str, Any]:
    return {
        "id": "c-1",
        **communication(),
        "basedOn": [{"reference": "ServiceRequest/sr-1"}],
        "recipient": [ods_reference("RZZ")],
    }


def response(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "inResponseTo": [{"reference": "Communication/c-1"}],
        "sender": ods_reference("RZZ"),
        "payload": [{"contentString": "Seen at home."}],
        **extra,
    }


def test_a_response_is_linked_and_addressed_back_to_the_sender() -> None:
    linked = linked_response(response(), summary())
    assert linked["basedOn"] == [{"reference": "ServiceRequest/sr-1"}]
    assert linked["subject"] == {"identifier": nhs_identifier()}
    assert linked["recipient"] == [ods_reference("AZZ")]


def test_an_addressee_already_named_is_not_added_twice() -> None:
    linked = linked_response(response(recipient=[ods_reference("AZZ")]), summary())
    assert linked["recipient"] == [ods_reference("AZZ")]


@pytest.mark.parametrize(
    ("extra", "expression"),
    [
        ({"basedOn": [{"reference": "ServiceRequest/sr-2"}]}, "Communication.basedOn"),
        ({"basedOn": [{"reference": "CarePlan/x"}]}, "Communication.basedOn"),
        ({"subject": {"identifier": nhs_identifier("9000000009")}}, "Communication.subject"),
    ],
)
def test_a_link_that_disagrees_is_refused(extra: dict[str, Any], expression: str) -> None:
    with pytest.raises(ContentError) as error:
        linked_response(response(**extra), summary())
    assert [issue.expression for issue in error.value.issues] == [expression]


@pytest.mark.parametrize(
    "in_response_to",
    [
        [],
        [{"reference": "ServiceRequest/sr-1"}],
        [{"reference": "Communication/a"}, {"reference": "Communication/b"}],
    ],
)
def test_a_response_answers_exactly_one_communication(in_response_to: Any) -> None:
    with pytest.raises(ContentError):
        answered_id({"inResponseTo": in_response_to})
    assert answered_id(response()) == "c-1"


def test_an_escalation_summary_is_recognised_by_its_category() -> None:
    assert is_escalation_summary(summary())
    assert not is_escalation_summary(communication(category="handover"))


def test_the_escalation_response_recorded() -> None:
    sent = (NOW - timedelta(minutes=3)).isoformat()
    recorded = escalation_response(response(sent=sent), "Trust (RZZ)", now=NOW, skew=SKEW)
    assert recorded.summary == "Seen at home."
    assert recorded.from_ == "Trust (RZZ)"
    assert recorded.received_at == NOW - timedelta(minutes=3)
    unsent = escalation_response(response(), "RZZ", now=NOW, skew=SKEW)
    assert unsent.received_at == NOW


def test_a_response_sent_in_the_future_is_refused() -> None:
    sent = (NOW + SKEW + timedelta(minutes=1)).isoformat()
    with pytest.raises(ContentError) as error:
        escalation_response(response(sent=sent), "RZZ", now=NOW, skew=SKEW)
    assert error.value.issues[0].expression == "Communication.sent"


def test_the_response_shown_to_the_referrer() -> None:
    stored = {**response(sent="2026-11-30T11:57:00Z"), "id": "r-1", "meta": {"lastUpdated": "x"}}
    assert response_summary(stored).as_json() == {
        "communication": "Communication/r-1",
        "status": "completed",
        "from": "RZZ",
        "sent": "2026-11-30T11:57:00Z",
        "received_at": "x",
    }
