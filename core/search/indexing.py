"""What a resource contributes to the search index: pure extraction, no database."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.fhir.dates import EARLIEST, LATEST, parse_date_range
from core.fhir.models import is_resource_type
from core.fhir.patients import PATIENT_ELEMENTS, fact_identifier
from core.search.parameters import ParamType, SearchParameter, parameters_for

IDENTIFIER_MODIFIER = ":identifier"
# Index columns hold at most this many characters; queries truncate the same way.
INDEXED_TEXT_LENGTH = 255

_LITERAL_REFERENCE = re.compile(
    r"(?:.*/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?"
)


@dataclass(frozen=True, slots=True)
class IndexRow:
    param: str
    system: str | None = None
    value: str | None = None
    low: datetime | None = None
    high: datetime | None = None


def index_text(value: str) -> str:
    return value[:INDEXED_TEXT_LENGTH]


def index_rows(
    resource_type: str, resource: Mapping[str, Any], patient: str | None = None
) -> list[IndexRow]:
    """Every index row for a resource, without duplicates, in a stable order.

    `patient`: the person's identifier as established when it was written
    (core.fhir.patients). It is indexed as the patient element's identifier too, so that
    a search by NHS number (subject:identifier=...) finds a record that named the person
    by a reference to their Patient.
    """
    rows: dict[IndexRow, None] = {}
    for parameter in parameters_for(resource_type).values():
        for path in parameter.paths:
            for element in _elements_at(resource, path.split(".")):
                for row in _rows_for(parameter, element):
                    rows[row] = None
            if patient is not None and _is_patient_element(resource_type, parameter, path):
                system, value = fact_identifier(patient)
                rows[_system_value_row(parameter.name + IDENTIFIER_MODIFIER, system, value)] = None
    return list(rows)


def indexes_person(resource_type: str, param: str) -> bool:
    """Whether `param` searches the element naming the person the record is about, so
    that the person's identifier is indexed under `param:identifier` for every record
    (however it named them)."""
    parameter = parameters_for(resource_type).get(param)
    return parameter is not None and any(
        _is_patient_element(resource_type, parameter, path) for path in parameter.paths
    )


def _is_patient_element(resource_type: str, parameter: SearchParameter, path: str) -> bool:
    return parameter.type is ParamType.REFERENCE and path == PATIENT_ELEMENTS.get(resource_type)


def normalise_reference(reference: str) -> str | None:
    """'Patient/1', 'https://host/fhir/Patient/1/_history/2' -> 'Patient/1'; None if opaque.

    The type must be a FHIR resource type, so a URL such as an identifier system
    (https://fhir.nhs.uk/Id/nhs-number) is never mistaken for a reference.

    Contained ('#x') and URN references cannot be searched by a literal id.
    """
    if reference.startswith(("#", "urn:")):
        return None
    match = _LITERAL_REFERENCE.fullmatch(reference)
    if match is None or not is_resource_type(match["type"]):
        return None
    return f"{match['type']}/{match['id']}"


def _elements_at(node: Any, steps: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _elements_at(item, steps)
        return
    if not steps:
        yield node
        return
    if isinstance(node, Mapping) and steps[0] in node:
        yield from _elements_at(node[steps[0]], steps[1:])


def _rows_for(parameter: SearchParameter, element: Any) -> Iterator[IndexRow]:
    if parameter.type is ParamType.TOKEN:
        yield from _token_rows(parameter.name, element)
    elif parameter.type is ParamType.REFERENCE:
        yield from _reference_rows(parameter, element)
    else:
        yield from _date_rows(parameter.name, element)


def _token_rows(name: str, element: Any) -> Iterator[IndexRow]:
    if isinstance(element, str):
        yield IndexRow(name, value=index_text(element))
    elif isinstance(element, bool):
        yield IndexRow(name, value="true" if element else "false")
    elif isinstance(element, Mapping):
        if "coding" in element:  # CodeableConcept
            for coding in element["coding"]:
                yield from _token_rows(name, coding)
        elif "code" in element:  # Coding
            yield _system_value_row(name, element.get("system"), element["code"])
        elif "value" in element:  # Identifier
            yield _system_value_row(name, element.get("system"), element["value"])


def _system_value_row(name: str, system: Any, value: Any) -> IndexRow:
    return IndexRow(
        name,
        system=index_text(system) if isinstance(system, str) else None,
        value=index_text(str(value)),
    )


def _reference_rows(parameter: SearchParameter, element: Any) -> Iterator[IndexRow]:
    if not isinstance(element, Mapping):
        return
    reference = element.get("reference")
    if isinstance(reference, str):
        literal = normalise_reference(reference)
        if literal is not None:
            target_type = literal.split("/", 1)[0]
            if not parameter.targets or target_type in parameter.targets:
                yield IndexRow(parameter.name, value=index_text(literal))
    identifier = element.get("identifier")
    if isinstance(identifier, Mapping) and "value" in identifier:
        yield _system_value_row(
            parameter.name + IDENTIFIER_MODIFIER, identifier.get("system"), identifier["value"]
        )


def _date_rows(name: str, element: Any) -> Iterator[IndexRow]:
    if isinstance(element, str):
        span = parse_date_range(element)
        if span is not None:
            yield IndexRow(name, low=span.low, high=span.high)
    elif isinstance(element, Mapping):  # Period: an open end is open for ever
        start = parse_date_range(element["start"]) if "start" in element else None
        end = parse_date_range(element["end"]) if "end" in element else None
        if start is not None or end is not None:
            yield IndexRow(
                name,
                low=start.low if start else EARLIEST,
                high=end.high if end else LATEST,
            )
