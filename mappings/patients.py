"""Whose record a resource is: the NHS number of its patient, for the access log.

The access log writes one AuditEvent per patient per interaction, so that "who saw this
person's record" is a query on one column. The patient is found where each resource type
names it; only an NHS number identifier counts (a literal Patient/<id> reference names
a record in this gateway, whose own identifier is what an IG lead searches by).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mappings.identifiers import NHS_NUMBER_SYSTEM

# Where each type names its patient (FHIR R4 element names).
_PATIENT_ELEMENT = {
    "ServiceRequest": "subject",
    "Communication": "subject",
    "Flag": "subject",
    "Task": "for",
    "Consent": "patient",
}


def patient_nhs_number(resource_type: str, resource: Mapping[str, Any]) -> str | None:
    if resource_type == "Patient":
        return _nhs_number(resource.get("identifier"))
    element = _PATIENT_ELEMENT.get(resource_type)
    if element is None:
        return None
    reference = resource.get(element)
    if not isinstance(reference, Mapping):
        return None
    return _nhs_number([reference.get("identifier")])


def _nhs_number(identifiers: object) -> str | None:
    if not isinstance(identifiers, list):
        return None
    for identifier in identifiers:
        if (
            isinstance(identifier, Mapping)
            and identifier.get("system") == NHS_NUMBER_SYSTEM
            and isinstance(identifier.get("value"), str)
        ):
            value: str = identifier["value"]
            return value
    return None
