"""pathways.yaml: the referral checklists, the input limits, localities, decline reasons.

    limits: {max_text_length: 4000, respond_by_tolerance_minutes: 15}
    localities: [north, south]      # or, with the names people read: {north: {name: North}}
    services:                       # optional: the names of receiver.service codes
      crisis-resolution-home-treatment: {name: Crisis resolution and home treatment team}
    pathways:
      crisis:
        requirements: {current_presentation: error, what_has_changed: warning}
    overrides:                      # optional, per locality and pathway
      north:
        crisis:
          requirements: {sender.contact: error}
    decline_reasons:
      - {code: not-eligible, display: Does not meet the service's eligibility criteria}
    restrictions:                   # optional; these are the defaults
      max_review_interval_days: 28  # a review date at most this long after the start
                                    # or the last review
      long_running_days: 28         # governance's "long-running": GET /api/restrictions
                                    # ?longer_than= with no value uses it

Localities are codes (what a dataset's `locality` names); given as a mapping, each has
the name the summary page shows. `services` names the services a dataset's
`receiver.service` (free text) may name by a code, for the page too: an unnamed one is
shown as sent.

A requirement names a dataset field by its dotted path in the spec's names; a path the
dataset models do not define stops the start. An override replaces the severity of a
field the pathway already lists (stricter or looser) or adds a field; the pathway's
other requirements stand.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from core.codes import handover as handover_codes
from core.handover.checklist import Checklist, Requirement, Severity, check_field_path
from core.handover.dataset import Pathway
from core.handover.dataset_rules import DatasetRules

# Codes receivers give when declining a handover, in a CodeSystem the gateway owns.
DECLINE_REASON_SYSTEM = handover_codes.DECLINE_REASON_SYSTEM

FieldPath = Annotated[str, AfterValidator(check_field_path)]
Locality = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Limits(_Strict):
    # Per free-text field, in characters.
    max_text_length: int = Field(ge=1, le=1_000_000)
    # How far in the past a respond-by may lie at receipt before the dataset is marked
    # overdue on receipt (less is clock skew). Never a refusal: a late crisis is accepted.
    respond_by_tolerance_minutes: int = Field(ge=0, le=24 * 60)


class RepeatRule(_Strict):
    """`count` or more escalations about one person from one organisation within
    `within_days`: the latest is a repeat, and a manager review is opened."""

    count: int = Field(ge=2, le=100)
    within_days: int = Field(ge=1, le=365)


class RestrictionSettings(_Strict):
    """The restrictions standard's numbers for this deployment (docs/restrictions.md)."""

    # The longest a restriction may go unreviewed: each review date is at most this many
    # days after the start or the last review.
    max_review_interval_days: int = Field(default=28, ge=1, le=365)
    # A restriction in force longer than this is long-running: governance reviews those.
    long_running_days: int = Field(default=28, ge=1, le=3650)

    @property
    def max_review_interval(self) -> timedelta:
        return timedelta(days=self.max_review_interval_days)

    @property
    def long_running(self) -> timedelta:
        return timedelta(days=self.long_running_days)


class PathwayChecklist(_Strict):
    # Field path -> error (a gap refuses the handover) or warning (accepted as incomplete).
    requirements: dict[FieldPath, Severity] = Field(default_factory=dict)
    # When escalations about one person repeat often enough to need a manager's review
    # (read from the pathway's own entry; a locality override does not change it).
    repeat_escalations: RepeatRule | None = None


class Named(_Strict):
    """A code's name, as the summary page shows it to people (names, not codes)."""

    name: str = Field(min_length=1, max_length=200)


def _named_codes(value: Any) -> Any:
    """A bare list of codes (the older form) as a mapping of each code to itself as its
    name; a mapping as it is."""
    if not isinstance(value, list):
        return value
    if not all(isinstance(code, str) for code in value):
        raise ValueError("must be a list of codes, or a mapping of each code to {name: ...}")
    if len(value) != len(set(value)):
        raise ValueError("each locality may appear only once")
    return {code: {"name": code} for code in value}


class DeclineReason(_Strict):
    code: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)
    display: str = Field(min_length=1, max_length=200)


class PathwaysConfig(_Strict):
    limits: Limits
    # Each code with its name; written as a bare list of codes too, each then named by its
    # code (`in` and iteration give the codes).
    localities: Annotated[dict[Locality, Named], BeforeValidator(_named_codes)]
    # receiver.service (and escalation.escalated_to.service) codes -> their names.
    services: dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], Named] = Field(
        default_factory=dict
    )
    pathways: dict[Pathway, PathwayChecklist] = Field(min_length=1)
    # locality -> pathway -> requirements that replace or add to the pathway's.
    overrides: dict[Locality, dict[Pathway, PathwayChecklist]] = Field(default_factory=dict)
    decline_reasons: tuple[DeclineReason, ...] = Field(min_length=1)
    restrictions: RestrictionSettings = Field(default_factory=RestrictionSettings)

    _checklists: dict[tuple[str, str | None], Checklist] = PrivateAttr(default_factory=dict)
    _rules: DatasetRules | None = PrivateAttr(default=None)

    @field_validator("localities")
    @classmethod
    def _some_locality(cls, value: dict[str, Named]) -> dict[str, Named]:
        if not value:
            raise ValueError("at least one locality is needed")
        return value

    @field_validator("overrides")
    @classmethod
    def _known_overrides(
        cls, value: dict[str, dict[str, PathwayChecklist]], info: ValidationInfo
    ) -> dict[str, dict[str, PathwayChecklist]]:
        localities = info.data.get("localities")
        pathways = info.data.get("pathways")
        for locality, by_pathway in value.items():
            if localities is not None and locality not in localities:
                raise ValueError(
                    f"{locality} is not one of the localities ({', '.join(localities)})"
                )
            for pathway in by_pathway:
                if pathways is not None and pathway not in pathways:
                    raise ValueError(
                        f"{locality}.{pathway}: the pathway has no checklist under pathways"
                    )
        return value

    @field_validator("decline_reasons")
    @classmethod
    def _unique_codes(cls, value: tuple[DeclineReason, ...]) -> tuple[DeclineReason, ...]:
        codes = [reason.code for reason in value]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"each code may appear only once ({', '.join(duplicates)})")
        return value

    def model_post_init(self, context: Any, /) -> None:
        checklists: dict[tuple[str, str | None], Checklist] = {}
        for pathway, entry in self.pathways.items():
            checklists[pathway, None] = _checklist(pathway, entry.requirements)
        for locality, by_pathway in self.overrides.items():
            for pathway, override in by_pathway.items():
                merged = {**self.pathways[pathway].requirements, **override.requirements}
                checklists[pathway, locality] = _checklist(pathway, merged)
        self._checklists = checklists
        self._rules = DatasetRules(
            max_text_length=self.limits.max_text_length,
            respond_by_tolerance=timedelta(minutes=self.limits.respond_by_tolerance_minutes),
            localities=frozenset(self.localities),
            pathways=frozenset(self.pathways),
        )

    def repeat_rule(self, pathway: str) -> RepeatRule | None:
        """When escalations on `pathway` about one person count as repeats, if ever."""
        checklist = self.pathways.get(pathway)  # type: ignore[call-overload]
        return checklist.repeat_escalations if checklist is not None else None

    @property
    def locality_names(self) -> dict[str, str]:
        """Each locality's name, by code; one given as a bare code is named by its code."""
        return {code: entry.name for code, entry in self.localities.items()}

    @property
    def service_names(self) -> dict[str, str]:
        """The configured services' names, by the code a dataset names one with."""
        return {code: entry.name for code, entry in self.services.items()}

    def checklist_for(self, pathway: str, locality: str | None) -> Checklist | None:
        """The pathway's checklist with the locality's overrides merged in; None when the
        pathway has no checklist here (the handover cannot be accepted)."""
        return self._checklists.get((pathway, locality)) or self._checklists.get((pathway, None))

    @property
    def rules(self) -> DatasetRules:
        assert self._rules is not None
        return self._rules


def _checklist(pathway: str, requirements: dict[str, Severity]) -> Checklist:
    return Checklist(
        pathway,
        tuple(Requirement(field, severity) for field, severity in requirements.items()),
    )
