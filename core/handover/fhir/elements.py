"""FHIR elements every dataset resource shares: references by identifier, instants, and
the gateway's dataset-entry extension."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.codes import common as codes
from core.codes import handover as handover_codes
from core.codes import sharing as sharing_codes
from core.fhir.dates import format_instant
from core.handover.dataset import EscalationSummary, Handover, Patient, PatientAddress


@dataclass(frozen=True, slots=True)
class ResourceIds:
    """The ids the resources of one dataset are stored under, chosen before mapping so
    that they can refer to each other."""

    service_request: str
    communication: str
    provenance: str
    flags: tuple[str, ...]


def reference(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def organisation(ods: str) -> dict[str, Any]:
    """An organisation, by its ODS code (the UK Core way)."""
    return {"identifier": {"system": codes.ODS_ORGANISATION_SYSTEM, "value": ods}}


def patient_reference(patient: Patient) -> dict[str, Any]:
    """The person, by NHS number or, with none yet, by the sender's local identifier;
    with the UK Core NHS number verification status when the sender gave it (with a local
    identifier it says why there is no number). The receiver matches them in its own
    system, or asks the sender about its own number."""
    identifier: dict[str, Any] = {}
    if patient.nhs_number_status is not None:
        status = handover_codes.NHS_NUMBER_VERIFICATION[patient.nhs_number_status]
        identifier["extension"] = [
            {
                "url": handover_codes.EXTENSION_NHS_NUMBER_VERIFICATION,
                "valueCodeableConcept": {"coding": [status.coding()]},
            }
        ]
    if patient.local_identifier is not None:
        local = patient.local_identifier
        identifier.update(system=local.system, value=local.value)
    else:
        identifier.update(system=codes.NHS_NUMBER_SYSTEM, value=patient.nhs_number)
    return {"identifier": identifier}


# The dataset-entry extension: one part of a dataset with several fields (an action taken,
# the escalation step...). Each field is a sub-extension named as the spec names it; the
# value type follows the field's type (the person's address is a FHIR Address).
EntryValue = str | bool | date | datetime | codes.Code | PatientAddress


def fhir_address(address: PatientAddress) -> dict[str, Any]:
    """The person's address as a FHIR Address: its lines, city (town) and postalCode."""
    found: dict[str, Any] = {}
    if address.lines:
        found["line"] = list(address.lines)
    if address.city is not None:
        found["city"] = address.city
    if address.postcode is not None:
        found["postalCode"] = address.postcode
    return found


def dataset_address(value: Any) -> Any:
    """A FHIR Address back as the dataset's address (anything else as it is, for the
    dataset's own checks to refuse)."""
    if not isinstance(value, Mapping):
        return value
    names = {"line": "lines", "city": "city", "postalCode": "postcode"}
    return {names.get(key, key): item for key, item in value.items()}


def entry(fields: Iterable[tuple[str, EntryValue | None]]) -> dict[str, Any] | None:
    """The extension holding `fields` that have a value; None when none has."""
    parts = [{"url": name, **_typed(value)} for name, value in fields if value is not None]
    if not parts:
        return None
    return {"url": handover_codes.EXTENSION_DATASET_ENTRY, "extension": parts}


def _typed(value: EntryValue) -> dict[str, Any]:
    if isinstance(value, PatientAddress):
        return {"valueAddress": fhir_address(value)}
    if isinstance(value, codes.Code):
        return {"valueCoding": value.coding()}
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, datetime):
        return {"valueDateTime": format_instant(value, fixed_width=False)}
    if isinstance(value, date):
        return {"valueDate": value.isoformat()}
    return {"valueString": value}


def entry_fields(element: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of the dataset-entry extension on `element`, by name, as JSON values
    (a coded field as its code)."""
    found: dict[str, Any] = {}
    for extension in _extensions(element, handover_codes.EXTENSION_DATASET_ENTRY):
        for part in extension.get("extension", []):
            name = part.get("url")
            for key, value in part.items():
                if key.startswith("value") and isinstance(name, str):
                    found[name] = value.get("code") if key == "valueCoding" else value
    return found


def extension_value(element: Mapping[str, Any], url: str, key: str) -> Any:
    for extension in _extensions(element, url):
        if key in extension:
            return extension[key]
    return None


def _extensions(element: Mapping[str, Any], url: str) -> list[Mapping[str, Any]]:
    extensions = element.get("extension")
    if not isinstance(extensions, list):
        return []
    return [e for e in extensions if isinstance(e, Mapping) and e.get("url") == url]


def coded(concept: Any, system: str) -> str | None:
    """The code `concept` (a CodeableConcept or a list of them) carries in `system`."""
    concepts = concept if isinstance(concept, list) else [concept]
    for one in concepts:
        codings = one.get("coding") if isinstance(one, Mapping) else None
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, Mapping) and coding.get("system") == system:
                value = coding.get("code")
                if isinstance(value, str):
                    return value
    return None


def system_of(code_system: Mapping[str, codes.Code]) -> str:
    return next(iter(code_system.values())).system


def data_category_tags(dataset: Handover | EscalationSummary) -> list[dict[str, str]]:
    """A safeguarding concern is tagged as such on every resource made from it, so only
    agreements that cover safeguarding data share it."""
    if dataset.pathway == "safeguarding":
        return [sharing_codes.DATA_CATEGORIES["safeguarding"].coding()]
    return []


def recipients(dataset: Handover | EscalationSummary) -> list[str]:
    """The organisations a dataset is shared with: its receiver, and the organisation an
    escalation was escalated to when that is another one."""
    found = [dataset.receiver.ods]
    if isinstance(dataset, EscalationSummary) and dataset.escalation.escalated_to is not None:
        escalated_to = dataset.escalation.escalated_to.ods
        if escalated_to is not None and escalated_to not in found:
            found.append(escalated_to)
    return found
