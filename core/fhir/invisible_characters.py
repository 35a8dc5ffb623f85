"""Zero-width and bidirectional-control characters, refused where a value identifies.

U+200B..U+200F (zero-width space, joiners, marks) and U+202A..U+202E, U+2066..U+2069
(bidi embeddings, overrides and isolates) show as nothing or reorder what follows. In an
identifier, a reference, an id or a code they make two different values look the same
(an NHS number, an ODS code, a SNOMED code that displays as another), so they are refused
there. Free text keeps them: what a clinician wrote is not changed, and wherever the
gateway shows free text it isolates it (the summary page puts each piece in a <bdi>).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from core.fhir.issues import Issue, IssueCode, element_path

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

# How a refusal says it, after what holds one ("... holds a zero-width ...").
INVISIBLE_CHARACTERS = (
    "holds a zero-width or bidirectional-control character (U+200B to U+200F, U+202A to "
    "U+202E, U+2066 to U+2069), which would make it display as another value"
)
MESSAGE = f"An identifier, reference, id or code {INVISIBLE_CHARACTERS}; send it without."

# FHIR elements (by JSON name) whose strings identify: ids, references, codes, systems
# and URIs, and the extension values of those types.
_FHIR_IDENTIFYING = frozenset(
    {
        "id",
        "reference",
        "system",
        "code",
        "url",
        "fullUrl",
        "profile",
        "valueCode",
        "valueId",
        "valueUri",
        "valueUrl",
        "valueCanonical",
        "valueOid",
        "valueUuid",
    }
)
# Elements holding an Identifier, whose `value` identifies too.
_FHIR_IDENTIFIERS = frozenset({"identifier", "valueIdentifier"})

# Dataset fields that identify: the sender's reference, the person, the organisations,
# the referral an escalation escalates; and any field named as an identifier or id.
_DATASET_IDENTIFYING = frozenset({"external_id", "nhs_number", "ods", "related_referral"})
_DATASET_IDENTIFYING_SUFFIXES = ("identifier", "_id")


def has_invisible_character(text: str) -> bool:
    return _INVISIBLE.search(text) is not None


def fhir_identifier_issues(resource: Mapping[str, Any], resource_type: str) -> list[Issue]:
    """One issue per identifying element of a FHIR resource (contained and Bundle entry
    resources included) that holds an invisible character."""
    return [
        Issue(IssueCode.VALUE, MESSAGE, element_path(resource_type, where))
        for where in _fhir_findings(resource, ())
    ]


def dataset_identifier_issues(body: Mapping[str, Any]) -> list[Issue]:
    """The same for a dataset as sent (before it is read), so that an NHS number or ODS
    code holding one is named for what it holds rather than as malformed."""
    return [
        Issue(IssueCode.VALUE, MESSAGE, element_path("", where))
        for where in _dataset_findings(body, (), identifying=False)
    ]


def _fhir_findings(node: Any, where: tuple[int | str, ...]) -> Iterator[tuple[int | str, ...]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _fhir_findings(item, (*where, index))
        return
    if not isinstance(node, Mapping):
        return
    in_identifier = _names_identifier(where)
    for key, value in node.items():
        here = (*where, key)
        identifying = key in _FHIR_IDENTIFYING or (in_identifier and key == "value")
        if identifying and _holds_invisible(value):
            yield here
        else:
            yield from _fhir_findings(value, here)


def _names_identifier(where: tuple[int | str, ...]) -> bool:
    """Whether the object at `where` is an Identifier (an item of a list of them too)."""
    for part in reversed(where):
        if isinstance(part, str):
            return part in _FHIR_IDENTIFIERS
    return False


def _dataset_findings(
    node: Any, where: tuple[int | str, ...], *, identifying: bool
) -> Iterator[tuple[int | str, ...]]:
    if isinstance(node, str):
        if identifying and has_invisible_character(node):
            yield where
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _dataset_findings(item, (*where, index), identifying=identifying)
    elif isinstance(node, Mapping):
        for key, value in node.items():
            named = isinstance(key, str) and (
                key in _DATASET_IDENTIFYING or key.endswith(_DATASET_IDENTIFYING_SUFFIXES)
            )
            yield from _dataset_findings(value, (*where, key), identifying=identifying or named)


def _holds_invisible(value: Any) -> bool:
    if isinstance(value, str):
        return has_invisible_character(value)
    if isinstance(value, list):
        return any(isinstance(item, str) and has_invisible_character(item) for item in value)
    return False
