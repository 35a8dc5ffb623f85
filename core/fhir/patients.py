"""Who a record is about: the person's identifier, established from how the record names
them, or the reason it names nobody the gateway can be sure of.

A record whose type has a patient element (below; a Patient is the person itself) is
always about a person, and must name them in a way that cannot be mistaken:

- by NHS number: an identifier in the UK Core system, or a literal reference
  `Patient/<id>` to a Patient stored here that carries one;
- for a person with no NHS number yet (a crisis does not wait for a trace), by a local
  identifier in a system registered (organisations.yaml) for an organisation party to
  the record: the organisation that issued it, the only one that can say who it is.

The person's identifier, stored as the record's patient fact, is the NHS number, or
`system|value` for a local identifier (no NHS number contains a bar). Anything else (a
misspelt or unregistered system, no system, a display alone, a reference to a Patient
not stored here) is a ContentError at the element: such a record is never stored, so
never shared as data about "no patient". Pure: the shell looks up a referenced Patient
and passes what it found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.fhir.identifiers import (
    NHS_NUMBER_SYSTEM,
    is_nhs_number_near_miss,
    is_valid_local_value,
    is_valid_nhs_number,
)
from core.fhir.issues import ContentError, Issue, IssueCode
from core.handover.dataset import Patient as DatasetPatient

# Where each type names the person it is about (FHIR R4 element names).
PATIENT_ELEMENTS = {
    "ServiceRequest": "subject",
    "Communication": "subject",
    "Flag": "subject",
    "Task": "for",
    "Consent": "patient",
}
_LOCAL_REFERENCE = re.compile(r"Patient/([A-Za-z0-9\-.]{1,64})")
_WAYS = (
    f"by NHS number (an identifier in {NHS_NUMBER_SYSTEM}), by a reference Patient/<id> to "
    "a Patient stored here, or, for a person with no NHS number yet, by a local identifier "
    "in a system registered for an organisation party to this record"
)


def is_about_a_person(resource_type: str) -> bool:
    """Whether records of this type are always about a person (never "no patient")."""
    return resource_type in PATIENT_ELEMENTS or resource_type == "Patient"


def local_fact(system: str, value: str) -> str:
    """The person's identifier for a local identifier."""
    return f"{system}|{value}"


def fact_identifier(fact: str) -> tuple[str, str]:
    """(system, value) of a person's identifier: an NHS number, or `system|value`."""
    system, bar, value = fact.partition("|")
    return (system, value) if bar else (NHS_NUMBER_SYSTEM, fact)


def person_of(patient: DatasetPatient) -> str:
    """The identifier of the person a dataset names: its NHS number, or, with none yet,
    its local identifier (whose system the shell checks is registered for the sender)."""
    if patient.local_identifier is not None:
        return local_fact(patient.local_identifier.system, patient.local_identifier.value)
    if patient.nhs_number is None:  # the dataset model allows neither to be missing
        raise ValueError("a dataset's patient has an NHS number or a local identifier")
    return patient.nhs_number


def referenced_patient(resource_type: str, resource: Mapping[str, Any]) -> str | None:
    """The id of the Patient stored here that the patient element names as Patient/<id>,
    for the shell to look up; None when it names none that way."""
    element = PATIENT_ELEMENTS.get(resource_type)
    named = resource.get(element) if element is not None else None
    reference = named.get("reference") if isinstance(named, Mapping) else None
    match = _LOCAL_REFERENCE.fullmatch(reference) if isinstance(reference, str) else None
    return match[1] if match else None


def written_identifier(resource_type: str, resource: Mapping[str, Any]) -> str | None:
    """The person's identifier as the patient element's identifier writes it (an NHS
    number, or `system|value`), unchecked: for comparing two records that were, or will
    be, checked by `patient_fact`. None when it carries no identifier with a system."""
    element = PATIENT_ELEMENTS.get(resource_type)
    named = resource.get(element) if element is not None else None
    identifier = named.get("identifier") if isinstance(named, Mapping) else None
    if not isinstance(identifier, Mapping):
        return None
    system, value = identifier.get("system"), identifier.get("value")
    if not isinstance(system, str) or not isinstance(value, str):
        return None
    return value if system == NHS_NUMBER_SYSTEM else local_fact(system, value)


def patient_fact(
    resource_type: str,
    resource: Mapping[str, Any],
    *,
    local_systems: frozenset[str],
    referenced: str | None = None,
) -> str | None:
    """The identifier of the person the record is about; None for a type about nobody.

    `local_systems`: the local patient identifier systems registered for the
    organisations party to the record. `referenced`: the identifier of the Patient that
    `referenced_patient` names, when one is stored here that the writer may see (None
    otherwise). ContentError (a business rule) at the element when the person cannot be
    established. Messages name elements, never values.
    """
    if resource_type == "Patient":
        return _patient_itself(resource, local_systems)
    element = PATIENT_ELEMENTS.get(resource_type)
    if element is None:
        return None
    path = f"{resource_type}.{element}"
    named = resource.get(element)
    if not isinstance(named, Mapping):
        raise _refused(f"{path} must name the person this record is about: {_WAYS}.", path)
    kind = named.get("type")
    if kind is not None and kind != "Patient":
        raise _refused(
            f"{path}.type must be Patient: this record is about a person.", f"{path}.type"
        )
    found: list[str] = []
    if "reference" in named:
        found.append(_by_reference(named.get("reference"), referenced, local_systems, path))
    if "identifier" in named:
        found.append(_by_identifier(named.get("identifier"), local_systems, f"{path}.identifier"))
    if not found:
        raise _refused(
            f"{path} names nobody the gateway can be sure of (a display alone is not an "
            f"identifier): name the person {_WAYS}.",
            path,
        )
    if len(set(found)) > 1:
        raise _refused(f"{path}: its reference and its identifier name different people.", path)
    return found[0]


def _by_reference(
    reference: Any, referenced: str | None, local_systems: frozenset[str], path: str
) -> str:
    where = f"{path}.reference"
    if not isinstance(reference, str) or _LOCAL_REFERENCE.fullmatch(reference) is None:
        raise _refused(
            f"{where} must refer to a Patient stored here as Patient/<id> (a contained or "
            f"another server's Patient is not one the gateway knows); or name the person {_WAYS}.",
            where,
        )
    if referenced is None or not _usable(referenced, local_systems):
        raise _refused(
            f"{where} names no Patient stored here that your organisation may see and that "
            "carries an NHS number (or a local identifier of an organisation party to this "
            "record).",
            where,
        )
    return referenced


def _by_identifier(identifier: Any, local_systems: frozenset[str], path: str) -> str:
    if not isinstance(identifier, Mapping):
        raise _refused(f"{path} must be an identifier with a system and a value.", path)
    system, value = identifier.get("system"), identifier.get("value")
    if not isinstance(system, str):
        raise _refused(
            f"{path}.system is missing: an identifier without a system names nobody. Name "
            f"the person {_WAYS}.",
            f"{path}.system",
        )
    if system == NHS_NUMBER_SYSTEM:
        if not isinstance(value, str) or not is_valid_nhs_number(value):
            raise _refused(
                "The NHS number is not valid: it must be 10 digits that pass the Modulus 11 check.",
                f"{path}.value",
            )
        return value
    if is_nhs_number_near_miss(system):
        raise _refused(
            f"NHS numbers use the system {NHS_NUMBER_SYSTEM}, exactly.", f"{path}.system"
        )
    if system not in local_systems:
        raise _refused(
            f"{path}.system is neither the NHS number's ({NHS_NUMBER_SYSTEM}) nor a local "
            "patient identifier system registered (organisations.yaml) for an organisation "
            "party to this record.",
            f"{path}.system",
        )
    if not isinstance(value, str) or not is_valid_local_value(value):
        raise _refused(
            "A local patient identifier is 1 to 64 letters, digits and - . _ : /.",
            f"{path}.value",
        )
    return local_fact(system, value)


def _patient_itself(resource: Mapping[str, Any], local_systems: frozenset[str]) -> str:
    """A Patient is identified by the one NHS number it carries or, with none, by the one
    local identifier it carries in a system registered for an organisation party to it
    (its managing organisation). Other identifiers it may carry are not its identity."""
    identifiers = resource.get("identifier")
    listed = (
        [i for i in identifiers if isinstance(i, Mapping)] if isinstance(identifiers, list) else []
    )
    numbers = {
        i["value"]
        for i in listed
        if i.get("system") == NHS_NUMBER_SYSTEM
        and isinstance(i.get("value"), str)
        and is_valid_nhs_number(i["value"])
    }
    locals_ = {
        local_fact(i["system"], i["value"])
        for i in listed
        if i.get("system") in local_systems
        and isinstance(i.get("value"), str)
        and is_valid_local_value(i["value"])
    }
    for candidates in (numbers, locals_):
        if len(candidates) == 1:
            return next(iter(candidates))
        if len(candidates) > 1:
            raise _refused(
                "Patient.identifier names more than one person: one NHS number (or, with "
                "none, one local identifier) identifies a Patient.",
                "Patient.identifier",
            )
    raise _refused(
        f"Patient.identifier must carry the person's NHS number ({NHS_NUMBER_SYSTEM}), or, "
        "for a person with no NHS number yet, a local identifier in a system registered "
        "for its managing organisation.",
        "Patient.identifier",
    )


def _usable(fact: str, local_systems: frozenset[str]) -> bool:
    """A referenced Patient's identifier is usable here if it is an NHS number, or a local
    identifier of an organisation party to this record."""
    system, _ = fact_identifier(fact)
    return system == NHS_NUMBER_SYSTEM or system in local_systems


def _refused(message: str, expression: str) -> ContentError:
    return ContentError([Issue(IssueCode.BUSINESS_RULE, message, expression)], business_rule=True)
