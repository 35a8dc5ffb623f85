"""pathways.yaml: the referral checklists, the input limits, localities, decline reasons.

    limits: {max_text_length: 4000, respond_by_tolerance_minutes: 15}
    localities: [north, south]
    pathways:
      crisis:
        requirements: {current_presentation: error, what_has_changed: warning}
    overrides:                      # optional, per locality and pathway
      north:
        crisis:
          requirements: {sender.contact: error}
    decline_reasons:
      - {code: not-eligible, display: Does not meet the service's eligibility criteria}

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
    # How far in the past a respond-by may lie and still be accepted (clock skew, queues).
    respond_by_tolerance_minutes: int = Field(ge=0, le=24 * 60)


class RepeatRule(_Strict):
    """`count` or more escalations about one person from one organisation within
    `within_days`: the latest is a repeat, and a manager review is opened."""

    count: int = Field(ge=2, le=100)
    within_days: int = Field(ge=1, le=365)


class PathwayChecklist(_Strict):
    # Field path -> error (a gap refuses the handover) or warning (accepted as incomplete).
    requirements: dict[FieldPath, Severity] = Field(default_factory=dict)
    # When escalations about one person repeat often enough to need a manager's review
    # (read from the pathway's own entry; a locality override does not change it).
    repeat_escalations: RepeatRule | None = None


class DeclineReason(_Strict):
    code: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)
    display: str = Field(min_length=1, max_length=200)


class PathwaysConfig(_Strict):
    limits: Limits
    localities: tuple[Locality, ...] = Field(min_length=1)
    pathways: dict[Pathway, PathwayChecklist] = Field(min_length=1)
    # locality -> pathway -> requirements that replace or add to the pathway's.
    overrides: dict[Locality, dict[Pathway, PathwayChecklist]] = Field(default_factory=dict)
    decline_reasons: tuple[DeclineReason, ...] = Field(min_length=1)

    _checklists: dict[tuple[str, str | None], Checklist] = PrivateAttr(default_factory=dict)
    _rules: DatasetRules | None = PrivateAttr(default=None)

    @field_validator("localities")
    @classmethod
    def _unique_localities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) != len(set(value)):
            raise ValueError("each locality may appear only once")
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
