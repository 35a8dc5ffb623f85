"""The rules on a dataset's content that depend on configuration, as Issues.

The dataset models check shape, codes and identity; these check what a deployment sets:
how long free text may be, which localities exist, and which pathways have a referral
checklist (a handover on a pathway without one cannot be checked, so it is not
accepted). Every problem is returned at once; messages name the field and the configured
limit, never the value sent.

A respond-by already past is never a refusal: a crisis held in a sender's outbox is still
a crisis. It is accepted and marked overdue on receipt (`overdue_on_receipt`) when it had
passed by more than the configured tolerance, which allows for clocks that differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from core.fhir.issues import Issue, IssueCode, element_path
from core.handover.dataset import EscalationSummary, Handover


@dataclass(frozen=True, slots=True)
class DatasetRules:
    max_text_length: int
    # How far in the past a respond-by may lie at receipt before the dataset is marked
    # overdue on receipt (clocks differ; a few minutes' skew is not lateness).
    respond_by_tolerance: timedelta
    localities: frozenset[str]
    # The pathways that have a referral checklist in this deployment.
    pathways: frozenset[str]


def _strings(value: Any, location: tuple[int | str, ...]) -> Iterator[tuple[str, str]]:
    """Every string in a dataset with its path, walking the models generically (so a
    text field added to the models is covered without a change here)."""
    if isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            yield from _strings(getattr(value, name), (*location, field.alias or name))
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            yield from _strings(item, (*location, index))
    elif isinstance(value, str):
        yield element_path("", location), value


def rule_issues(
    dataset: Handover | EscalationSummary, rules: DatasetRules, now: datetime
) -> list[Issue]:
    """Every configured rule `dataset` breaks, at once; `now` must carry its offset."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    issues: list[Issue] = []
    if dataset.pathway not in rules.pathways:
        offered = ", ".join(sorted(rules.pathways)) or "none"
        issues.append(
            Issue(
                IssueCode.BUSINESS_RULE,
                f"This gateway has no referral checklist for the {dataset.pathway} pathway, "
                f"so it cannot accept it; the pathways it accepts are: {offered}.",
                "pathway",
            )
        )
    if dataset.locality is not None and dataset.locality not in rules.localities:
        # The value is the sender's text: the message lists the configured ones only.
        issues.append(
            Issue(
                IssueCode.VALUE,
                "locality is not one this gateway knows; the localities are: "
                f"{', '.join(sorted(rules.localities))}.",
                "locality",
            )
        )
    for where, text in _strings(dataset, ()):
        if len(text) > rules.max_text_length:
            issues.append(
                Issue(
                    IssueCode.TOO_LONG,
                    f"{where} is longer than the {rules.max_text_length} characters "
                    "this gateway accepts in one field.",
                    where,
                )
            )
    return issues


# The answer's warning for a dataset overdue on receipt, naming no value sent.
OVERDUE_FIELD = "time_sensitivity.respond_by"


def overdue_on_receipt(
    dataset: Handover | EscalationSummary, rules: DatasetRules, now: datetime
) -> Issue | None:
    """A warning (never an error) when the respond-by of `dataset`, received `now`, had
    already passed by more than the tolerance for clock differences: whatever its
    priority, it is accepted and marked overdue, so the receiver acts on it at once."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    respond_by = dataset.time_sensitivity.respond_by if dataset.time_sensitivity else None
    if respond_by is None or respond_by >= now - rules.respond_by_tolerance:
        return None
    minutes = int(rules.respond_by_tolerance.total_seconds() // 60)
    return Issue(
        IssueCode.BUSINESS_RULE,
        "time_sensitivity.respond_by had already passed when the gateway received this (by "
        f"more than the {minutes} minutes allowed for clock differences): accepted and "
        "marked overdue on receipt, so the receiver sees at once that it is late.",
        OVERDUE_FIELD,
        severity="warning",
    )
