"""The request a dataset makes, as a ServiceRequest: what is asked, of whom, by whom,
for whom, how urgently and by when."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from core.codes import handover as handover_codes
from core.fhir.dates import format_instant
from core.handover.dataset import EscalationSummary, Handover, Priority
from core.handover.fhir.elements import (
    ResourceIds,
    data_category_tags,
    organisation,
    patient_reference,
    reference,
)

# The spec's time sensitivity as FHIR request-priority (a required binding in R4).
FHIR_PRIORITY: Final[MappingProxyType[Priority, str]] = MappingProxyType(
    {"emergency": "stat", "very-urgent": "asap", "urgent": "urgent", "routine": "routine"}
)
DATASET_PRIORITY: Final = MappingProxyType({fhir: ours for ours, fhir in FHIR_PRIORITY.items()})


def service_request(
    dataset: Handover | EscalationSummary,
    ids: ResourceIds,
    received_at: datetime,
    *,
    incomplete: bool,
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "ServiceRequest", "id": ids.service_request}
    tags = _tags(dataset, incomplete)
    if tags:
        resource["meta"] = {"tag": tags}
    if dataset.locality is not None:
        resource["extension"] = [
            {"url": handover_codes.EXTENSION_LOCALITY, "valueString": dataset.locality}
        ]
    resource["identifier"] = [
        {
            "system": handover_codes.EXTERNAL_ID_SYSTEM,
            "value": dataset.external_id,
            "assigner": organisation(dataset.sender.ods),
        }
    ]
    resource["status"] = "active"
    resource["intent"] = "order"
    resource["category"] = [{"coding": [handover_codes.PATHWAYS[dataset.pathway].coding()]}]
    request = dataset.request
    if request is not None and request.type is not None:
        resource["code"] = {"coding": [handover_codes.REQUEST_TYPES[request.type].coding()]}
    timing = dataset.time_sensitivity
    if timing is not None and timing.priority is not None:
        resource["priority"] = FHIR_PRIORITY[timing.priority]
    resource["subject"] = patient_reference(dataset.patient)
    if timing is not None and timing.respond_by is not None:
        resource["occurrencePeriod"] = {"end": format_instant(timing.respond_by, fixed_width=False)}
    resource["authoredOn"] = format_instant(received_at, fixed_width=False)
    resource["requester"] = organisation(dataset.sender.ods)
    if dataset.receiver.service is not None:
        resource["performerType"] = {"text": dataset.receiver.service}
    resource["performer"] = [organisation(dataset.receiver.ods)]
    if request is not None and request.summary is not None:
        resource["note"] = [{"text": request.summary}]
    resource["supportingInfo"] = [
        *(reference("Flag", flag) for flag in ids.flags),
        reference("Communication", ids.communication),
    ]
    return resource


def _tags(dataset: Handover | EscalationSummary, incomplete: bool) -> list[dict[str, str]]:
    tags = [handover_codes.INCOMPLETE.coding()] if incomplete else []
    return tags + data_category_tags(dataset)
