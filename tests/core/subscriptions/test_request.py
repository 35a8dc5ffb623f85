"""Reading a Subscription: criteria the search runs, a rest-hook channel under a
configured URL, headers that cannot hijack the request, and the status the client may
ask for; every refusal names its element and none repeats what was sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.fhir.issues import ContentError, IssueCode
from core.search.query import IdCriterion, TokenCriterion
from core.subscriptions.request import (
    FULL_RESOURCE,
    Status,
    read_criteria,
    read_subscription,
    valid_structure,
)

BASES = ("https://crisis.rzz.test/fhir",)
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
CRITERIA = f"Communication?recipient:identifier={ODS}|RZZ&category=escalation"


def body(**changes: Any) -> dict[str, Any]:
    channel = {"type": "rest-hook", "endpoint": "https://crisis.rzz.test/fhir/hooks"}
    channel.update(changes.pop("channel", {}))
    resource: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Escalations to the crisis team.",
        "criteria": CRITERIA,
        "channel": channel,
    }
    resource.update(changes)
    return {key: value for key, value in resource.items() if value is not None}


def read(resource: dict[str, Any], current: Status | None = None) -> Any:
    return read_subscription(valid_structure(resource), bases=BASES, current=current)


def refused(resource: dict[str, Any], current: Status | None = None) -> list[Any]:
    with pytest.raises(ContentError) as caught:
        read(resource, current)
    assert caught.value.business_rule
    assert all(issue.code is IssueCode.BUSINESS_RULE for issue in caught.value.issues)
    return caught.value.issues


def test_a_subscription_is_read_into_what_the_gateway_acts_on() -> None:
    terms = read(
        body(
            end="2027-01-01T00:00:00Z",
            error="set by the client",
            channel={"payload": FULL_RESOURCE, "header": ["X-Hook-Key:  abc123 "]},
        )
    )
    assert terms.criteria.resource_type == "Communication"
    assert terms.criteria.params == (
        ("recipient:identifier", f"{ODS}|RZZ"),
        ("category", "escalation"),
    )
    assert terms.endpoint == "https://crisis.rzz.test/fhir/hooks"
    assert terms.payload == FULL_RESOURCE
    assert terms.headers == (("X-Hook-Key", "abc123"),)
    assert terms.status is Status.ACTIVE  # requested: the gateway activates it
    assert terms.end == datetime(2027, 1, 1, tzinfo=UTC)
    # What the server owns is not kept from what was sent.
    assert "status" not in terms.content
    assert "error" not in terms.content
    assert terms.content["reason"] == "Escalations to the crisis team."


def test_the_criteria_stand_for_the_search_they_name() -> None:
    query = read_criteria(CRITERIA).query()
    assert query.resource_type == "Communication"
    assert [type(c) for c in query.criteria] == [TokenCriterion, TokenCriterion]
    assert read_criteria("Flag?_id=a,b").query().criteria == (IdCriterion(("a", "b")),)
    with pytest.raises(ValueError, match="criteria"):
        read_criteria("Observation?code=x")


def test_without_a_payload_notifications_carry_nothing() -> None:
    terms = read(body())
    assert terms.payload is None
    assert terms.headers == ()


@pytest.mark.parametrize(
    "criteria",
    [
        "Communication?birthdate=2000",  # a parameter the search does not know
        "Communication?category:text=escalation",  # a modifier it does not support
        "Communication?date=tomorrow",
        "Communication?_include=Communication:based-on",  # shapes results, chooses nothing
        "Communication?_sort=_lastUpdated&category=escalation",
        "Communication?_count=5",
        "Observation?code=1234",  # a type the gateway does not store
        "Organization?identifier=RZZ",  # the directory: configuration, not data
        "Subscription?status=active",
        "AuditEvent?patient=9434765919",
        "https://evil.example/fhir/Communication?category=escalation",
        "communication?category=escalation",
        "?category=escalation",
        "Communication?category=" + "x" * 2048,
    ],
)
def test_criteria_the_search_cannot_run_are_refused_at_the_criteria(criteria: str) -> None:
    (issue,) = refused(body(criteria=criteria))
    assert issue.expression == "Subscription.criteria"
    assert "9434765919" not in issue.diagnostics
    assert "evil" not in issue.diagnostics


@pytest.mark.parametrize(
    ("channel", "where"),
    [
        ({"type": "websocket"}, "Subscription.channel.type"),
        ({"type": "email", "endpoint": "mailto:a@b.test"}, "Subscription.channel.type"),
        ({"endpoint": None}, "Subscription.channel.endpoint"),
        ({"endpoint": "https://evil.example/steal"}, "Subscription.channel.endpoint"),
        ({"endpoint": "http://169.254.169.254/latest/meta-data"}, "Subscription.channel.endpoint"),
        ({"endpoint": "https://crisis.rzz.test/fhir/../admin"}, "Subscription.channel.endpoint"),
        ({"payload": "application/fhir+xml"}, "Subscription.channel.payload"),
        ({"payload": "text/plain"}, "Subscription.channel.payload"),
        ({"header": ["Authorization: Bearer stolen"]}, "Subscription.channel.header[0]"),
        ({"header": ["ok: 1", "X-Request-ID: fixed"]}, "Subscription.channel.header[1]"),
        ({"header": ["host: evil.example"]}, "Subscription.channel.header[0]"),
        ({"header": ["no colon"]}, "Subscription.channel.header[0]"),
        ({"header": ["Bad Name: x"]}, "Subscription.channel.header[0]"),
        ({"header": ["X-Key: caf\u00e9"]}, "Subscription.channel.header[0]"),
        ({"header": ["X-Key: a\r\nHost: evil.example"]}, "Subscription.channel.header[0]"),
        ({"header": [f"X-H{n}: v" for n in range(11)]}, "Subscription.channel.header"),
    ],
)
def test_a_channel_the_gateway_will_not_send_on_is_refused_at_its_element(
    channel: dict[str, Any], where: str
) -> None:
    issues = refused(body(channel=channel))
    assert [issue.expression for issue in issues] == [where]
    assert "stolen" not in issues[0].diagnostics
    assert "evil" not in issues[0].diagnostics


def test_no_endpoint_is_allowed_where_none_is_configured() -> None:
    with pytest.raises(ContentError) as caught:
        read_subscription(valid_structure(body()), bases=())
    (issue,) = caught.value.issues
    assert issue.expression == "Subscription.channel.endpoint"
    assert "ask the gateway's operator" in issue.diagnostics


def test_every_problem_is_named_at_once() -> None:
    issues = refused(
        body(criteria="Observation?code=1", channel={"payload": "text/plain"}, status="error")
    )
    assert [issue.expression for issue in issues] == [
        "Subscription.criteria",
        "Subscription.channel.payload",
        "Subscription.status",
    ]


@pytest.mark.parametrize(
    ("asked", "current", "held"),
    [
        ("requested", None, Status.ACTIVE),
        ("active", None, Status.ACTIVE),
        ("off", None, Status.OFF),
        ("requested", Status.ERROR, Status.ACTIVE),  # asked for again after failing
        ("off", Status.ACTIVE, Status.OFF),
        ("error", Status.ERROR, Status.ERROR),  # sent back as read: left as it is
    ],
)
def test_the_status_a_client_may_ask_for(asked: str, current: Status | None, held: Status) -> None:
    assert read(body(status=asked), current).status is held


@pytest.mark.parametrize("current", [None, Status.ACTIVE, Status.OFF])
def test_only_the_gateway_sets_error(current: Status | None) -> None:
    (issue,) = refused(body(status="error"), current)
    assert issue.expression == "Subscription.status"


def test_structure_is_checked_first_and_is_a_400() -> None:
    with pytest.raises(ContentError) as caught:
        valid_structure(body(reason=None))
    assert not caught.value.business_rule
    assert caught.value.issues[0].expression == "Subscription.reason"
    with pytest.raises(ContentError) as caught:
        valid_structure({**body(), "resourceType": "Communication"})
    assert "does not match" in caught.value.issues[0].diagnostics
