"""The patient fact as revisions before 0009 recorded it, frozen here so that those
revisions behave as they did whatever the core's rules become: the NHS number of an
identifier in the UK Core system on the patient element (or on a Patient), else None.

Revision 0009 then establishes every record's person by the rules in core.fhir.patients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
_PATIENT_ELEMENT = {
    "ServiceRequest": "subject",
    "Communication": "subject",
    "Flag": "subject",
    "Task": "for",
    "Consent": "patient",
}


def nhs_number_as_written(resource_type: str, resource: Mapping[str, Any]) -> str | None:
    if resource_type == "Patient":
        return _nhs_number(resource.get("identifier"))
    element = _PATIENT_ELEMENT.get(resource_type)
    reference = resource.get(element) if element is not None else None
    if not isinstance(reference, Mapping):
        return None
    return _nhs_number([reference.get("identifier")])


def _nhs_number(identifiers: object) -> str | None:
    for identifier in identifiers if isinstance(identifiers, list) else []:
        if (
            isinstance(identifier, Mapping)
            and identifier.get("system") == _NHS_NUMBER_SYSTEM
            and isinstance(identifier.get("value"), str)
        ):
            value: str = identifier["value"]
            return value
    return None
