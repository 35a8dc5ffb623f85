"""The restrictions standard's rules, as pure functions: what a new restriction and each
review must keep, named by field, and what a review or the time limit makes of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.fhir.issues import ContentError
from core.safeguarding.restrictions import (
    RestrictionRules,
    created,
    expired,
    parse_new,
    parse_review,
    reviewed,
)
from tests.paths import REPO

RULES = RestrictionRules(max_review_interval=timedelta(days=28))
NOW = datetime(2026, 12, 20, tzinfo=UTC)  # after the example's start and first review


def example(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((REPO / "examples" / "restriction.json").read_text())
    return body | changes


def refused(make: Any) -> list[str | None]:
    with pytest.raises(ContentError) as caught:
        make()
    assert caught.value.business_rule
    return [issue.expression for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"alternatives_considered": []}, "alternatives_considered"),
        ({"review_date": "2026-12-23T09:00:00Z"}, "review_date"),  # after the time limit
        ({"review_date": "2026-12-08T09:00:00Z"}, "review_date"),  # not after the start
        ({"time_limit": "2026-12-07T09:00:00Z"}, "time_limit"),  # before the start
        ({"patient": {}}, "patient.nhs_number"),
        ({"start": "2026-12-08T09:00:00"}, "start"),  # no offset
        ({"kind": "seclusion"}, "kind"),
    ],
)
def test_a_new_restriction_breaking_a_rule_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    assert field in refused(lambda: created(parse_new(example(**changes)), "r1", RULES))


def test_the_review_date_is_no_later_than_the_maximum_interval_from_the_start() -> None:
    body = example(review_date="2027-01-05T09:00:01Z", time_limit="2027-02-01T09:00:00Z")
    assert refused(lambda: created(parse_new(body), "r1", RULES)) == ["review_date"]
    exactly = example(review_date="2027-01-05T09:00:00Z", time_limit="2027-02-01T09:00:00Z")
    assert created(parse_new(exactly), "r1", RULES).review_date == datetime(
        2027, 1, 5, 9, tzinfo=UTC
    )


def review(**body: Any) -> Any:
    return parse_review(
        {
            "reviewed_by": {"name": "Dr R", "role": "Responsible clinician"},
            "reviewed_at": "2026-12-15T09:00:00Z",
            "reason": "Reviewed.",
        }
        | body
    )


def test_only_a_review_moves_the_time_limit_and_each_keeps_the_interval() -> None:
    made = created(parse_new(example()), "r1", RULES)
    longer = reviewed(
        made,
        review(
            decision="continue",
            next_review_date="2026-12-29T09:00:00Z",
            time_limit="2027-01-12T09:00:00Z",
        ),
        RULES,
        NOW,
    )
    assert longer.time_limit == datetime(2027, 1, 12, 9, tzinfo=UTC)
    assert longer.reviews[-1].decision == "continue"
    # Measured from the review, not the start: 28 days after 15 December at most.
    too_far = review(
        decision="continue",
        next_review_date="2027-01-12T09:00:01Z",
        time_limit="2027-02-01T09:00:00Z",
    )
    assert refused(lambda: reviewed(made, too_far, RULES, NOW)) == ["next_review_date"]
    # A later review date than the time limit it keeps is refused.
    past_limit = review(decision="continue", next_review_date="2026-12-23T09:00:00Z")
    assert refused(lambda: reviewed(made, past_limit, RULES, NOW)) == ["next_review_date"]
    # Dated before the start, or in the future: refused.
    early = review(decision="end", reviewed_at="2026-12-01T09:00:00Z")
    assert refused(lambda: reviewed(made, early, RULES, NOW)) == ["reviewed_at"]
    future = review(decision="end", reviewed_at="2026-12-21T09:00:00Z")
    assert refused(lambda: reviewed(made, future, RULES, NOW)) == ["reviewed_at"]


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "continue"},  # no next review date
        {"decision": "step-down", "next_review_date": "2026-12-20T09:00:00Z"},  # becomes what?
        {"decision": "end", "next_review_date": "2026-12-20T09:00:00Z"},
        {
            "decision": "continue",
            "next_review_date": "2026-12-20T09:00:00Z",
            "stepped_down_to": {"kind": "contact", "detail": "less"},
        },
        {"decision": "pause", "next_review_date": "2026-12-20T09:00:00Z"},
    ],
)
def test_a_review_gives_what_its_decision_needs(body: dict[str, Any]) -> None:
    refused(lambda: review(**body))


def test_a_step_down_changes_what_it_is_and_an_end_or_the_time_limit_ends_it() -> None:
    made = created(parse_new(example()), "r1", RULES)
    lighter = reviewed(
        made,
        review(
            decision="step-down",
            next_review_date="2026-12-22T09:00:00Z",
            stepped_down_to={"kind": "contact", "detail": "Supervised contact only."},
        ),
        RULES,
        NOW,
    )
    assert lighter.detail == "Supervised contact only."
    assert lighter.status == "active"
    over = reviewed(lighter, review(decision="end", reviewed_at="2026-12-16T09:00:00Z"), RULES, NOW)
    assert (over.status, over.end_reason, over.review_date) == ("ended", "review", None)
    assert over.ended_at == datetime(2026, 12, 16, 9, tzinfo=UTC)
    lapsed = expired(made)
    assert (lapsed.status, lapsed.end_reason, lapsed.ended_at) == (
        "ended",
        "time-limit",
        made.time_limit,
    )
