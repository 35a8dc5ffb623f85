"""Hypothesis strategies for every restriction a caller can bring about: a valid new
restriction (any kind, 1 to 3 alternatives, shared with 0 to 2 organisations, free text
in any script, instants at any offset), then 0 to 3 valid reviews (continue with or
without a new time limit, step-down, end), or its time limit passing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

from hypothesis import strategies as st

from core.safeguarding.restrictions import (
    Kind,
    Restriction,
    RestrictionRules,
    created,
    expired,
    parse_new,
    parse_review,
    reviewed,
)
from tests.core.handover.fhir.strategies import fhir_ids, nhs_numbers, ods_codes, text

RULES = RestrictionRules(max_review_interval=timedelta(days=28))
kinds = st.sampled_from(get_args(Kind))
_SECONDS = st.integers(min_value=1, max_value=28 * 24 * 3600)


def written(draw: st.DrawFn, moment: datetime) -> str:
    """`moment` as an instant at any offset (with its fraction, if any)."""
    offset = draw(st.integers(min_value=-14 * 60, max_value=14 * 60))
    return moment.astimezone(timezone(timedelta(minutes=offset))).isoformat()


def person() -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({"name": text, "role": text})


@st.composite
def new_restrictions(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1))
    ).replace(tzinfo=UTC)
    review_in = timedelta(seconds=draw(_SECONDS))
    limit_after_review = timedelta(seconds=draw(st.integers(0, 90 * 24 * 3600)))
    author = draw(ods_codes)
    shared = draw(st.lists(ods_codes.filter(lambda ods: ods != author), max_size=2))
    return {
        "patient": {"nhs_number": draw(nhs_numbers)},
        "author": {"ods": author},
        "shared_with": [{"ods": ods} for ods in shared],
        "kind": draw(kinds),
        "detail": draw(text),
        "rationale": draw(text),
        "alternatives_considered": draw(
            st.lists(
                st.fixed_dictionaries({"alternative": text, "why_not_enough": text}),
                min_size=1,
                max_size=3,
            )
        ),
        "authorised_by": draw(person()),
        "start": written(draw, start),
        "review_date": written(draw, start + review_in),
        "time_limit": written(draw, start + review_in + limit_after_review),
        "step_down_plan": draw(text),
    }


@st.composite
def restrictions(draw: st.DrawFn) -> Restriction:
    """A restriction as stored after any valid history."""
    current = created(parse_new(draw(new_restrictions())), draw(fhir_ids), RULES)
    for _ in range(draw(st.integers(0, 3))):
        if current.status == "ended":
            break
        if draw(st.integers(0, 5)) == 0:
            return expired(current)
        since = current.last_reviewed_at or current.start
        assert current.review_date is not None
        at = since + (current.review_date - since) * draw(st.floats(0, 1))
        at = at.replace(microsecond=draw(st.sampled_from([0, at.microsecond])))
        decision = draw(st.sampled_from(["continue", "step-down", "end"]))
        body: dict[str, Any] = {
            "reviewed_by": draw(person()),
            "reviewed_at": written(draw, max(at, since)),
            "decision": decision,
            "reason": draw(text),
        }
        if decision != "end":
            at = datetime.fromisoformat(body["reviewed_at"])
            due = at + timedelta(seconds=draw(_SECONDS))
            body["next_review_date"] = written(draw, due)
            if draw(st.booleans()):
                later = due + timedelta(seconds=draw(st.integers(0, 60 * 24 * 3600)))
                body["time_limit"] = written(draw, later)
            elif due > current.time_limit:
                body["time_limit"] = written(draw, due)
        if decision == "step-down":
            body["stepped_down_to"] = {"kind": draw(kinds), "detail": draw(text)}
        far_future = datetime(2200, 1, 1, tzinfo=UTC)
        current = reviewed(current, parse_review(body), RULES, far_future)
    return current
