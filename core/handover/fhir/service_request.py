"""The request a dataset makes, as a ServiceRequest: what is asked, of whom, by whom,
for whom, how urgently and by when; and what the gateway found on receipt, so that a
Trust pulling the FHIR knows it without asking for the summary: the fields the referral
checklist found missing (a repeating extension, each the field's dataset path) with the
`incomplete` tag, and the `overdue-on-receipt` tag when its respond-by had passed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from core.codes import handover as handover_codes
from core.codes.common import Code
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
    gaps: Sequence[str] = (),
    overdue: bool = False,
) -> dict[str, Any]:
    """`gaps`: the field paths the referral checklist found missing (it was accepted with
    warnings); `overdue`: its respond-by had passed when it was received."""
    resource: dict[str, Any] = {"resourceType": "ServiceRequest", "id": ids.service_request}
    tags = _tags(dataset, bool(gaps), overdue)
    if tags:
        resource["meta"] = {"tag": tags}
    extensions = []
    if dataset.locality is not None:
        extensions.append(
            {"url": handover_codes.EXTENSION_LOCALITY, "valueString": dataset.locality}
        )
    extensions += [
        {"url": handover_codes.EXTENSION_CHECKLIST_GAP, "valueString": gap}
        for gap in dict.fromkeys(gaps)
    ]
    if extensions:
        resource["extension"] = extensions
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


def _tags(
    dataset: Handover | EscalationSummary, incomplete: bool, overdue: bool
) -> list[dict[str, str]]:
    tags = [handover_codes.INCOMPLETE.coding()] if incomplete else []
    if overdue:
        tags.append(handover_codes.OVERDUE_ON_RECEIPT.coding())
    return tags + data_category_tags(dataset)


def checklist_gaps(resource: Mapping[str, Any]) -> tuple[str, ...]:
    """The field paths a stored ServiceRequest says the referral checklist found missing,
    in order (none when it names none)."""
    extensions = resource.get("extension")
    return tuple(
        extension["valueString"]
        for extension in (extensions if isinstance(extensions, list) else [])
        if isinstance(extension, Mapping)
        and extension.get("url") == handover_codes.EXTENSION_CHECKLIST_GAP
        and isinstance(extension.get("valueString"), str)
    )


def overdue_on_receipt(resource: Mapping[str, Any]) -> bool:
    """Whether a stored ServiceRequest is tagged overdue on receipt."""
    return _tagged(resource, handover_codes.OVERDUE_ON_RECEIPT)


def incomplete(resource: Mapping[str, Any]) -> bool:
    """Whether a stored ServiceRequest is tagged incomplete (accepted with gaps)."""
    return _tagged(resource, handover_codes.INCOMPLETE)


def _tagged(resource: Mapping[str, Any], code: Code) -> bool:
    meta = resource.get("meta")
    tags = meta.get("tag") if isinstance(meta, Mapping) else None
    return any(
        isinstance(tag, Mapping)
        and tag.get("system") == code.system
        and tag.get("code") == code.code
        for tag in (tags if isinstance(tags, list) else [])
    )
