"""The referral checklist: which dataset fields a pathway needs, and what a gap costs.

Each pathway (and optionally each locality) has a checklist in the configuration: a
list of dataset fields, each an `error` (a gap refuses the handover, with every gap
named at once) or a `warning` (accepted, flagged as incomplete). Fields are named by
their dotted dataset path in the spec's names (`request.summary`,
`time_sensitivity.respond_by`, `escalation.next_action`), checked against the dataset
models when the checklist is built, so a misspelt field stops the start rather than
silently never being checked.

The spec's safety rule: an `emergency` or `very-urgent` handover is never refused for a
missing clinical field, so for those every error gap becomes a warning. Identity (the
person's NHS number or, with none yet, the sender's local identifier; sender; receiver)
is required by the dataset models themselves, before any checklist runs, and a
checklist cannot name the person's identity. Requirements under `escalation.` apply
only to escalation summaries.

Messages name the field in words, never a value from the dataset.
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from core.fhir.issues import Issue, IssueCode
from core.handover.dataset import EscalationSummary, Handover
from core.handover.field_names import field_name

Severity = Literal["error", "warning"]

# How the person is identified: the dataset's own rule (core.handover.dataset.Patient), which
# a checklist can neither loosen nor tighten.
_IDENTITY = frozenset(
    {
        "patient.nhs_number",
        "patient.local_identifier",
        "patient.local_identifier.system",
        "patient.local_identifier.value",
    }
)
# Priorities for which a missing clinical field never refuses the handover.
_NEVER_REFUSED = frozenset({"emergency", "very-urgent"})


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds one of (through Optional and Annotated), or None for a
    plain value or a list: a checklist names a list as a whole, not its items."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is Annotated:
        return _nested_model(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for argument in get_args(annotation):
            found = _nested_model(argument)
            if found is not None:
                return found
    return None


def _paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    found: list[str] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        found.append(path)
        nested = _nested_model(field.annotation)
        if nested is not None:
            found.extend(_paths(nested, f"{path}."))
    return found


# Every path a requirement may name, in the order the models define them.
FIELD_PATHS: tuple[str, ...] = tuple(dict.fromkeys(_paths(Handover) + _paths(EscalationSummary)))
_KNOWN = frozenset(FIELD_PATHS)


def check_field_path(path: str) -> str:
    """`path` if it names a field of the handover or escalation dataset; ValueError
    (suggesting the nearest field) otherwise."""
    if path in _KNOWN:
        return path
    close = difflib.get_close_matches(path, FIELD_PATHS, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise ValueError(
        f"{path} is not a field of the handover or escalation dataset "
        f"(a dotted path in the spec's names, e.g. request.summary){hint}"
    )


@dataclass(frozen=True, slots=True)
class Requirement:
    field: str
    severity: Severity

    def __post_init__(self) -> None:
        check_field_path(self.field)
        if self.field in _IDENTITY:
            raise ValueError(
                f"{self.field} is not a checklist field: who the person is (an NHS number, "
                "or a local identifier for a person with none yet) is the dataset's own "
                "rule, and a crisis is never refused for lacking an NHS number"
            )
        if self.severity not in ("error", "warning"):
            raise ValueError("severity must be error or warning")


@dataclass(frozen=True, slots=True)
class Checklist:
    pathway: str
    requirements: tuple[Requirement, ...]


@dataclass(frozen=True, slots=True)
class Gap:
    field: str
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class Completeness:
    errors: tuple[Gap, ...] = ()
    warnings: tuple[Gap, ...] = ()

    @property
    def complete(self) -> bool:
        """Nothing on the checklist is missing."""
        return not self.errors and not self.warnings

    @property
    def accepted(self) -> bool:
        """No gap refuses the handover (warnings may remain)."""
        return not self.errors


class _NotApplicable:
    """A requirement on a part this kind of dataset does not have (escalation.*)."""


_NOT_APPLICABLE = _NotApplicable()


def _value(dataset: BaseModel, path: str) -> Any:
    current: Any = dataset
    for part in path.split("."):
        if current is None:
            return None
        fields = type(current).model_fields
        name = next((name for name, field in fields.items() if (field.alias or name) == part), None)
        if name is None:
            return _NOT_APPLICABLE
        current = getattr(current, name)
    return current


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        # Only spaces says nothing.
        return not value.strip()
    if isinstance(value, tuple | list):
        return len(value) == 0
    return False


# The fields a checklist usually names, in words; others are spelt out from the path.
def field_words(path: str) -> str:
    """A field path as words for a message: 'sender.contact' -> 'the call-back number',
    'actions_taken.at' -> 'when an action was taken'."""
    name = field_name(path)
    return name if name.split(" ")[0] in _CLAUSE_STARTS else f"the {name}"


# A name that is a clause ("when ...", "who ...") takes no article.
_CLAUSE_STARTS = frozenset({"when", "who", "whether", "what", "how"})


def _gap(requirement: Requirement, pathway: str, downgraded: bool) -> Gap:
    words = field_words(requirement.field)
    if downgraded:
        return Gap(
            requirement.field,
            "warning",
            f"The {pathway} checklist requires {words}, which is missing; accepted because "
            "an emergency or very urgent handover is never refused for a missing field.",
        )
    if requirement.severity == "error":
        return Gap(
            requirement.field,
            "error",
            f"The {pathway} checklist requires {words}, which is missing.",
        )
    return Gap(
        requirement.field,
        "warning",
        f"The {pathway} checklist asks for {words}, which is missing; accepted as incomplete.",
    )


def check_completeness(dataset: Handover | EscalationSummary, checklist: Checklist) -> Completeness:
    """Every gap against `checklist`, at once, as errors (refuse) and warnings (accept)."""
    if dataset.pathway != checklist.pathway:
        raise ValueError("the checklist is for another pathway than the dataset's")
    priority = dataset.time_sensitivity.priority if dataset.time_sensitivity else None
    never_refused = priority in _NEVER_REFUSED
    errors: list[Gap] = []
    warnings: list[Gap] = []
    for requirement in checklist.requirements:
        value = _value(dataset, requirement.field)
        if value is _NOT_APPLICABLE or not _missing(value):
            continue
        downgraded = never_refused and requirement.severity == "error"
        gap = _gap(requirement, checklist.pathway, downgraded)
        (errors if gap.severity == "error" else warnings).append(gap)
    return Completeness(tuple(errors), tuple(warnings))


def completeness_issues(completeness: Completeness) -> list[Issue]:
    """One Issue per gap, errors first (severity error), then warnings (severity
    warning); each names the missing field's path as its expression."""
    return [
        Issue(IssueCode.REQUIRED, gap.message, gap.field, severity=gap.severity)
        for gap in (*completeness.errors, *completeness.warnings)
    ]
