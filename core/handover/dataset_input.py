"""A dataset as sent, read into the models, or every problem with it at once.

Messages never repeat what was sent: a value may be patient data, and so may a field
name nobody defined. An unknown field is reported at its parent, with the fields the
dataset does define there; an enumeration's error lists the allowed values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from core.fhir.issues import ContentError, Issue, IssueCode, element_path
from core.handover.dataset import IDENTITY_MISSING, Dataset, EscalationSummary, Handover

_ADAPTER: TypeAdapter[Handover | EscalationSummary] = TypeAdapter(Dataset)
_DATASETS = ("handover", "escalation")


def parse_dataset(body: Mapping[str, Any]) -> Handover | EscalationSummary:
    """The dataset `body` holds; ContentError naming every problem otherwise."""
    if "resourceType" in body:
        raise ContentError(
            [
                Issue(
                    IssueCode.NOT_SUPPORTED,
                    "This endpoint takes the handover dataset as plain JSON, not a FHIR "
                    "resource; FHIR senders use POST /fhir/$process-message.",
                    "resourceType",
                )
            ]
        )
    try:
        return _ADAPTER.validate_python(dict(body))
    except ValidationError as error:
        raise ContentError(dataset_issues(error)) from None


def dataset_issues(
    error: ValidationError, *, part: type[BaseModel] | None = None, prefix: str = ""
) -> list[Issue]:
    """Every problem in `error`, raised validating a dataset or, with `part` and its
    `prefix` (e.g. "escalation.response"), one part of a dataset sent alone."""
    problems = error.errors(include_input=False, include_url=False, include_context=False)
    return [_issue(problem, part, prefix) for problem in problems]


def _issue(problem: Mapping[str, Any], part: type[BaseModel] | None, prefix: str) -> Issue:
    kind = str(problem["type"])
    location = _without_tag(problem["loc"]) if part is None else list(problem["loc"])
    where = element_path(prefix, location)
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        return Issue(
            IssueCode.REQUIRED if kind == "union_tag_not_found" else IssueCode.VALUE,
            f"dataset must be one of: {', '.join(_DATASETS)}.",
            "dataset",
        )
    if kind == "missing":
        return Issue(IssueCode.REQUIRED, f"{where} is required.", where)
    if kind == IDENTITY_MISSING:
        return Issue(IssueCode.REQUIRED, f"{where} {problem['msg']}.", where)
    if kind == "extra_forbidden":
        parent = list(location[:-1])
        tag = problem["loc"][0] if problem["loc"] else None
        root = part or (EscalationSummary if tag == "escalation" else Handover)
        known = ", ".join(_fields_at(parent, root)) or "none"
        at = element_path(prefix, parent) or "the top level"
        return Issue(
            IssueCode.STRUCTURE,
            f"A field the dataset does not define was sent in {at}; the fields there are: {known}.",
            element_path(prefix, parent) or None,
        )
    message = str(problem["msg"]).removeprefix("Value error, ")
    return Issue(IssueCode.VALUE, f"{where}: {message}.".replace("..", "."), where or None)


def _without_tag(location: Sequence[int | str]) -> list[int | str]:
    # A discriminated union puts the chosen model's tag first.
    parts = list(location)
    return parts[1:] if parts and parts[0] in _DATASETS else parts


def _fields_at(parent: list[int | str], root: type[BaseModel]) -> list[str]:
    """The field names the models define at `parent` (list positions skipped)."""
    model = root
    for part in parent:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        nested = _model_in(annotation)
        if nested is None:
            return []
        model = nested
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
