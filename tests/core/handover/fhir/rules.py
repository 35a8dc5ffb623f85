"""Rules every set of resources made from a dataset keeps, checked on every golden case
and on every generated dataset.

1. Every reference resolves to a resource in the set, except Communication.basedOn the
   referral an escalation escalates (an earlier ServiceRequest).
2. No empty element: no {}, [], "", null or whitespace-only string.
3. Every value of the dataset is in the output: strings as strings (instants as the same
   moment, the related referral as a ServiceRequest reference), booleans as valueBoolean
   in a dataset-entry, codes as codings in their system (the priority as FHIR's).
4. Every coding is one the code catalogue defines (no invented codes), and SNOMED CT appears only on
   the Flag of a risk type handover_codes.RISK_SNOMED names, with that code.

The HL7 R4 schema (tests.fhir_judge) is applied by the tests themselves, sparingly on
generated data, since it is slow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from core.codes import audit as audit_codes
from core.codes import catalogue
from core.codes import common as codes
from core.codes import handover as handover_codes
from core.handover.dataset import EscalationSummary, Handover
from core.handover.fhir.resources import DatasetResources
from core.handover.fhir.service_request import FHIR_PRIORITY

Path = tuple[str | int, ...]


def _system(code_system: Mapping[str, codes.Code]) -> str:
    return next(iter(code_system.values())).system


# Dataset fields carried as codings, by (parent, field): the coding's system.
CODED_FIELDS: dict[tuple[str, str], str] = {
    ("", "dataset"): _system(handover_codes.DATASET_KINDS),
    ("", "pathway"): _system(handover_codes.PATHWAYS),
    ("key_risks", "type"): _system(handover_codes.RISK_TYPES),
    ("key_risks", "level"): _system(handover_codes.RISK_LEVELS),
    ("request", "type"): _system(handover_codes.REQUEST_TYPES),
    ("patient", "nhs_number_status"): handover_codes.NHS_NUMBER_VERIFICATION_SYSTEM,
    ("sharing", "basis"): _system(handover_codes.SHARING_BASES),
    ("escalation", "level"): _system(handover_codes.ESCALATION_LEVELS),
}
INSTANT_FIELDS = {"respond_by", "at", "escalated_at", "received_at"}


def known_codings() -> set[tuple[str, str, str]]:
    """Every (system, code, display) the code catalogue (core.codes) defines."""
    found: set[tuple[str, str, str]] = set()
    values: list[Any] = [*catalogue().values(), *audit_codes.SUBTYPES]
    for value in values:
        members = value.values() if isinstance(value, MappingProxyType) else [value]
        for member in members:
            if isinstance(member, codes.Code):
                found.add((member.system, member.code, member.display))
    return found


_KNOWN = known_codings()


def problems(dataset: Handover | EscalationSummary, made: DatasetResources) -> list[str]:
    """Every rule broken, in words; empty when the resources keep them all."""
    resources = made.all()
    return [
        *_references(dataset, resources),
        *_empty_elements(resources),
        *_missing_values(dataset, made),
        *_codings(resources),
    ]


def assert_rules(dataset: Handover | EscalationSummary, made: DatasetResources) -> None:
    broken = problems(dataset, made)
    assert not broken, "\n".join(broken)


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every node, with its path."""
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from walk(item, (*path, index))


def _name(resource: Mapping[str, Any], path: Path) -> str:
    shown = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return f"{resource['resourceType']}/{resource['id']}{shown}"


def _references(
    dataset: Handover | EscalationSummary, resources: Sequence[Mapping[str, Any]]
) -> Iterator[str]:
    present = {f"{resource['resourceType']}/{resource['id']}" for resource in resources}
    related = None
    if isinstance(dataset, EscalationSummary) and dataset.escalation.related_referral:
        related = f"ServiceRequest/{dataset.escalation.related_referral}"
    for resource in resources:
        for path, node in walk(resource):
            if not isinstance(node, Mapping) or "reference" not in node:
                continue
            target = node["reference"]
            if target in present:
                continue
            escalated = resource["resourceType"] == "Communication" and path[:1] == ("basedOn",)
            if escalated and target == related:
                continue
            yield f"{_name(resource, path)}: {target!r} is not in the set"


def _empty_elements(resources: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    for resource in resources:
        for path, node in walk(resource):
            empty = node is None or (isinstance(node, dict | list | str) and not node)
            if empty or (isinstance(node, str) and node.isspace()):
                yield f"{_name(resource, path)}: empty element {node!r}"


class _Output:
    """What the resources hold, indexed for finding a dataset value."""

    def __init__(self, made: DatasetResources) -> None:
        self.strings: set[str] = set()
        self.moments: set[datetime] = set()
        self.codings: set[tuple[str, str]] = set()
        self.entries: set[tuple[str, str, Any]] = set()
        self.priorities = {
            resource.get("priority") for resource in (made.service_request, made.communication)
        }
        for _path, node in walk(made.all()):
            if isinstance(node, str):
                self.strings.add(node)
                moment = _moment(node)
                if moment is not None:
                    self.moments.add(moment)
            elif isinstance(node, Mapping):
                if isinstance(node.get("system"), str) and isinstance(node.get("code"), str):
                    self.codings.add((node["system"], node["code"]))
                if node.get("url") == handover_codes.EXTENSION_DATASET_ENTRY:
                    for part in node.get("extension", []):
                        for key, value in part.items():
                            if key.startswith("value") and not isinstance(value, Mapping):
                                self.entries.add((part["url"], key, value))


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """The dataset's JSON leaves, with their field path (list positions left out)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, path)
    else:
        yield path, value


def _missing_values(dataset: Handover | EscalationSummary, made: DatasetResources) -> Iterator[str]:
    output = _Output(made)
    body = dataset.model_dump(mode="json", by_alias=True, exclude_none=True)
    for path, value in _leaves(body):
        field = path[-1]
        parent = path[-2] if len(path) > 1 else ""
        where = ".".join(path)
        if isinstance(value, bool):
            if (field, "valueBoolean", value) not in output.entries:
                yield f"{where}: {value} is not a valueBoolean in a dataset-entry"
        elif (parent, field) in CODED_FIELDS:
            if (CODED_FIELDS[parent, field], value) not in output.codings:
                yield f"{where}: {value!r} is not a coding in {CODED_FIELDS[parent, field]}"
        elif (parent, field) == ("time_sensitivity", "priority"):
            if output.priorities != {FHIR_PRIORITY[value]}:
                yield f"{where}: {value!r} is not the request's and communication's priority"
        elif (parent, field) == ("escalation", "related_referral"):
            if f"ServiceRequest/{value}" not in output.strings:
                yield f"{where}: {value!r} is not referred to as a ServiceRequest"
        elif field in INSTANT_FIELDS:
            if datetime.fromisoformat(value) not in output.moments:
                yield f"{where}: the moment {value!r} is not in the output"
        elif value not in output.strings:
            yield f"{where}: {value!r} is not in the output"


def _codings(resources: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    for resource in resources:
        for path, node in walk(resource):
            if not (isinstance(node, Mapping) and "code" in node and "system" in node):
                continue
            coding = (node["system"], node["code"], node.get("display"))
            if coding not in _KNOWN:
                yield f"{_name(resource, path)}: {coding} is not defined in core/codes.py"
            if node["system"] == handover_codes.SNOMED_SYSTEM:
                yield from _snomed(resource, path, node)


def _snomed(resource: Mapping[str, Any], path: Path, coding: Mapping[str, Any]) -> Iterator[str]:
    if resource["resourceType"] != "Flag" or path[:2] != ("code", "coding"):
        yield f"{_name(resource, path)}: SNOMED CT outside a Flag's code"
        return
    risk_system = _system(handover_codes.RISK_TYPES)
    risk = next(
        (c["code"] for c in resource["code"]["coding"] if c.get("system") == risk_system), None
    )
    expected = handover_codes.RISK_SNOMED.get(risk) if isinstance(risk, str) else None
    if expected is None or dict(coding) != expected.coding():
        yield f"{_name(resource, path)}: SNOMED CT {coding['code']} for risk type {risk!r}"
