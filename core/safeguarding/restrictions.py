"""A restriction on what a person may do or have (restrictive practice), as the API takes
and returns it, and the rules every version of one keeps.

    POST /api/restrictions body (NewRestriction):
      patient {nhs_number}, author {ods}, shared_with [{ods}], kind, detail, rationale,
      alternatives_considered [{alternative, why_not_enough}] (at least one),
      authorised_by {name, role}, start, time_limit, review_date, step_down_plan
    POST /api/restrictions/{id}/reviews body (Review):
      reviewed_by {name, role}, reviewed_at, decision continue | step-down | end, reason,
      next_review_date (continue, step-down), time_limit (optional: a new one),
      stepped_down_to {kind, detail} (step-down)

The record (Restriction) is the request with its id, status (active | ended), every
review so far (oldest first), and how and when it ended. The rules:

- the time limit is after the start; the review date is after the start (or the review
  that set it), not after the time limit, and no later than the deployment's maximum
  review interval from the start or the last review;
- a review is dated between the restriction's start (or its last review) and now; only a
  review moves the time limit (nothing else writes a version: docs/restrictions.md);
- a review ending it leaves no review due; the time limit passing with no decision ends
  it too (expired), at its time limit.

Errors name the field, never what was sent (it may be patient data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from core.fhir.identifier_types import NhsNumber, OdsCode
from core.fhir.issues import ContentError, Issue, IssueCode
from core.handover.dataset import FhirId, Instant, Text

Kind = Literal["contact", "leaving", "possessions", "devices", "areas", "money", "other"]
Decision = Literal["continue", "step-down", "end"]
Status = Literal["active", "ended"]
EndReason = Literal["review", "time-limit"]
# Free text of a restriction: a person reads it when deciding, so bounded.
Words = Annotated[Text, StringConstraints(max_length=4000)]
Short = Annotated[Text, StringConstraints(max_length=200)]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(_Part):
    """A named person and their role (who authorised, who reviewed)."""

    name: Short
    role: Short


class Alternative(_Part):
    """A less restrictive alternative considered, and why it was not enough."""

    alternative: Words
    why_not_enough: Words


class PatientId(_Part):
    nhs_number: NhsNumber


class Organisation(_Part):
    ods: OdsCode


class SteppedDownTo(_Part):
    """What a step-down makes the restriction: a less restrictive kind or detail."""

    kind: Kind
    detail: Words


class Review(_Part):
    reviewed_by: Person
    reviewed_at: Instant
    decision: Decision
    reason: Words
    next_review_date: Instant | None = None
    time_limit: Instant | None = None
    stepped_down_to: SteppedDownTo | None = None

    @model_validator(mode="after")
    def _what_the_decision_needs(self) -> Review:
        issues: list[str] = []
        if self.decision == "end":
            for name in ("next_review_date", "time_limit", "stepped_down_to"):
                if getattr(self, name) is not None:
                    issues.append(name)
            if issues:
                raise ValueError(f"a review that ends the restriction takes no {issues[0]}")
        elif self.next_review_date is None:
            raise ValueError(f"a {self.decision} review needs next_review_date")
        if self.decision == "step-down" and self.stepped_down_to is None:
            raise ValueError("a step-down review needs stepped_down_to (what it becomes)")
        if self.decision == "continue" and self.stepped_down_to is not None:
            raise ValueError("only a step-down review takes stepped_down_to")
        return self


class _Fields(_Part):
    patient: PatientId
    author: Organisation
    shared_with: tuple[Organisation, ...] = Field(default=(), max_length=20)
    kind: Kind
    detail: Words
    rationale: Words
    alternatives_considered: tuple[Alternative, ...] = Field(min_length=1, max_length=50)
    authorised_by: Person
    start: Instant
    time_limit: Instant
    step_down_plan: Words


class NewRestriction(_Fields):
    """A restriction as its author sends it."""

    review_date: Instant


class Restriction(_Fields):
    """A restriction as stored and returned: the FHIR Flag's content, both ways."""

    id: FhirId
    status: Status = "active"
    # None once ended: nothing is due.
    review_date: Instant | None = None
    reviews: tuple[Review, ...] = ()
    ended_at: Instant | None = None
    end_reason: EndReason | None = None

    @model_validator(mode="after")
    def _ended_or_due(self) -> Restriction:
        ended = (self.ended_at, self.end_reason)
        if self.status == "ended" and (None in ended or self.review_date is not None):
            raise ValueError("an ended restriction has ended_at and end_reason, no review_date")
        if self.status == "active" and (ended != (None, None) or self.review_date is None):
            raise ValueError("an active restriction has a review_date, no ended_at or end_reason")
        return self

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    @property
    def last_reviewed_at(self) -> datetime | None:
        return self.reviews[-1].reviewed_at if self.reviews else None


@dataclass(frozen=True, slots=True)
class RestrictionRules:
    """The deployment's rules (configuration, passed in)."""

    # The longest a review date may lie after the start or the last review.
    max_review_interval: timedelta
    # How far in the future a review may be dated (clock skew between systems).
    clock_tolerance: timedelta = timedelta(minutes=5)


def parse_new(body: dict[str, Any]) -> NewRestriction:
    """The request body as a NewRestriction; ContentError naming every problem."""
    try:
        return NewRestriction.model_validate(body)
    except ValidationError as error:
        raise ContentError(_issues(error, "restriction"), business_rule=True) from None


def parse_review(body: dict[str, Any]) -> Review:
    try:
        return Review.model_validate(body)
    except ValidationError as error:
        raise ContentError(_issues(error, "review"), business_rule=True) from None


def created(new: NewRestriction, restriction_id: str, rules: RestrictionRules) -> Restriction:
    """The first version of a restriction, once its dates keep the rules."""
    problems: list[Issue] = []
    if new.time_limit <= new.start:
        problems.append(_rule("time_limit must be after start.", "time_limit"))
    problems += _review_date_issues(
        new.review_date, new.start, new.time_limit, rules, "review_date", "start"
    )
    if problems:
        raise ContentError(problems, business_rule=True)
    return Restriction.model_validate({"id": restriction_id, **new.model_dump(mode="json")})


def reviewed(
    current: Restriction, review: Review, rules: RestrictionRules, now: datetime
) -> Restriction:
    """`current` after `review`: a new time limit, review date or kind, or ended."""
    problems: list[Issue] = []
    since = current.last_reviewed_at or current.start
    if review.reviewed_at < since:
        problems.append(
            _rule("reviewed_at must not be before the start or the last review.", "reviewed_at")
        )
    if review.reviewed_at > now + rules.clock_tolerance:
        problems.append(_rule("reviewed_at must not be in the future.", "reviewed_at"))
    time_limit = review.time_limit or current.time_limit
    if review.time_limit is not None and review.time_limit <= review.reviewed_at:
        problems.append(_rule("time_limit must be after reviewed_at.", "time_limit"))
    if review.next_review_date is not None:
        problems += _review_date_issues(
            review.next_review_date,
            review.reviewed_at,
            time_limit,
            rules,
            "next_review_date",
            "reviewed_at",
        )
    if problems:
        raise ContentError(problems, business_rule=True)
    reviews = (*current.reviews, review)
    if review.decision == "end":
        return current.model_copy(
            update={
                "status": "ended",
                "reviews": reviews,
                "review_date": None,
                "ended_at": review.reviewed_at,
                "end_reason": "review",
            }
        )
    update: dict[str, Any] = {
        "reviews": reviews,
        "review_date": review.next_review_date,
        "time_limit": time_limit,
    }
    if review.stepped_down_to is not None:
        update |= {"kind": review.stepped_down_to.kind, "detail": review.stepped_down_to.detail}
    return current.model_copy(update=update)


def expired(current: Restriction) -> Restriction:
    """`current` ended at its time limit, with no decision."""
    return current.model_copy(
        update={
            "status": "ended",
            "review_date": None,
            "ended_at": current.time_limit,
            "end_reason": "time-limit",
        }
    )


def _review_date_issues(
    due: datetime,
    since: datetime,
    time_limit: datetime,
    rules: RestrictionRules,
    field: str,
    since_field: str,
) -> list[Issue]:
    problems: list[Issue] = []
    if due <= since:
        problems.append(_rule(f"{field} must be after {since_field}.", field))
    if due > time_limit:
        problems.append(_rule(f"{field} must not be after the time limit.", field))
    if due - since > rules.max_review_interval:
        days = rules.max_review_interval / timedelta(days=1)
        problems.append(
            _rule(
                f"{field} must be no later than {days:g} days (the deployment's maximum review "
                f"interval) after {since_field}.",
                field,
            )
        )
    return problems


def _rule(message: str, field: str) -> Issue:
    return Issue(IssueCode.BUSINESS_RULE, message, field)


def _issues(error: ValidationError, what: str) -> list[Issue]:
    """Every problem, named by its field; the messages never repeat what was sent."""
    found: list[Issue] = []
    for problem in error.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in problem["loc"])
        kind = problem["type"]
        if kind == "missing":
            found.append(Issue(IssueCode.REQUIRED, f"{where} is required.", where))
        elif kind == "extra_forbidden":
            parent = ".".join(str(part) for part in problem["loc"][:-1])
            found.append(
                Issue(
                    IssueCode.STRUCTURE,
                    f"A field a {what} does not define was sent"
                    f"{' in ' + parent if parent else ''}.",
                    parent or None,
                )
            )
        elif kind == "too_short" and where == "alternatives_considered":
            found.append(
                Issue(
                    IssueCode.REQUIRED,
                    "alternatives_considered needs at least one less restrictive alternative, "
                    "with why it was not enough.",
                    where,
                )
            )
        else:
            message = str(problem["msg"]).removeprefix("Value error, ")
            found.append(Issue(IssueCode.VALUE, f"{where or what}: {message}.", where or None))
    return found
