"""FHIR back to the dataset: the ServiceRequest, its Flags and its Communication, read as
the handover or escalation summary they carry.

Used for every dataset the gateway serves (`GET /api/handovers/{id}`) and for FHIR-native
senders, whose message is read into the dataset and then goes through the same checks as
a dataset sent as JSON. Whatever is read is validated by the dataset models, so a value
FHIR allows but the dataset does not (a malformed NHS number...) is refused the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.codes import common as codes
from core.codes import handover as handover_codes
from core.fhir.issues import ContentError, Issue, IssueCode
from core.handover.dataset import EscalationSummary, Handover
from core.handover.dataset_input import parse_dataset
from core.handover.fhir.elements import (
    coded,
    dataset_address,
    entry_fields,
    extension_value,
    system_of,
)
from core.handover.fhir.service_request import DATASET_PRIORITY

Resource = Mapping[str, Any]


def from_fhir(
    service_request: Resource,
    flags: Sequence[Resource],
    communication: Resource,
    *,
    service_request_references: Iterable[str] = (),
) -> Handover | EscalationSummary:
    """The dataset the resources carry; ContentError naming what is missing or invalid.

    `service_request_references` are the references that name `service_request` in the
    Communication's basedOn (its fullUrl in a message); any other ServiceRequest there is
    the referral an escalation escalates.
    """
    kind = coded(communication.get("category"), system_of(handover_codes.DATASET_KINDS))
    if kind is None:
        raise ContentError(
            [
                Issue(
                    IssueCode.REQUIRED,
                    "Communication.category must say whether this is a handover or an "
                    f"escalation ({system_of(handover_codes.DATASET_KINDS)}).",
                    "Communication.category",
                )
            ]
        )
    sections = _sections(communication)
    body: dict[str, Any] = {"dataset": kind}
    body.update(_from_service_request(service_request))
    body["patient"] |= _one(sections, "patient", name_parts=True)
    body["sender"] |= _one(sections, "sender-contact")
    body["key_risks"] = [_risk(flag) for flag in flags]
    body["current_presentation"] = _text(sections, "current-presentation")
    body["what_has_changed"] = _text(sections, "what-has-changed")
    body["actions_taken"] = [entry_fields(item) for item in sections.get("action-taken", [])]
    body["current_plan"] = _text(sections, "current-plan")
    body["sharing"] = _one(sections, "sharing") or None
    body["legal"] = _one(sections, "legal") or None
    if kind == "escalation":
        own = {f"ServiceRequest/{service_request.get('id')}", *service_request_references}
        body["escalation"] = _escalation(sections, communication, own)
    return parse_dataset(_without_absent(body))


def _from_service_request(resource: Resource) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for identifier in _list(resource.get("identifier")):
        if identifier.get("system") == handover_codes.EXTERNAL_ID_SYSTEM:
            body["external_id"] = identifier.get("value")
    body["pathway"] = coded(resource.get("category"), system_of(handover_codes.PATHWAYS))
    body["locality"] = extension_value(resource, handover_codes.EXTENSION_LOCALITY, "valueString")
    subject = _mapping(resource.get("subject"))
    identifier = _mapping(subject.get("identifier"))
    status = extension_value(
        identifier, handover_codes.EXTENSION_NHS_NUMBER_VERIFICATION, "valueCodeableConcept"
    )
    body["patient"] = {
        "nhs_number_status": coded(status, handover_codes.NHS_NUMBER_VERIFICATION_SYSTEM)
    }
    if identifier.get("system") == codes.NHS_NUMBER_SYSTEM:
        body["patient"]["nhs_number"] = identifier.get("value")
    elif identifier:  # no NHS number yet: the sender's local identifier (checked later)
        body["patient"]["local_identifier"] = {
            "system": identifier.get("system"),
            "value": identifier.get("value"),
        }
    body["sender"] = {"ods": _ods(resource.get("requester"))}
    performers = _list(resource.get("performer"))
    body["receiver"] = {
        "ods": _ods(performers[0]) if performers else None,
        "service": _mapping(resource.get("performerType")).get("text"),
    }
    notes = _list(resource.get("note"))
    body["request"] = {
        "type": coded(resource.get("code"), system_of(handover_codes.REQUEST_TYPES)),
        "summary": notes[0].get("text") if notes else None,
    }
    priority = resource.get("priority")
    body["time_sensitivity"] = {
        "priority": DATASET_PRIORITY.get(priority) if isinstance(priority, str) else None,
        "respond_by": _mapping(resource.get("occurrencePeriod")).get("end"),
    }
    return body


def _risk(flag: Resource) -> dict[str, Any]:
    concept = _mapping(flag.get("code"))
    level = extension_value(flag, handover_codes.EXTENSION_RISK_LEVEL, "valueCoding")
    return {
        "type": coded(concept, system_of(handover_codes.RISK_TYPES)),
        "level": _mapping(level).get("code"),
        "description": concept.get("text"),
        "since": _mapping(flag.get("period")).get("start"),
    }


def _escalation(
    sections: dict[str, list[Resource]], communication: Resource, own: set[str]
) -> dict[str, Any]:
    step = _one(sections, "escalation-step")
    escalation: dict[str, Any] = {
        "level": coded(communication.get("category"), system_of(handover_codes.ESCALATION_LEVELS)),
        "escalated_at": step.pop("escalated_at", None),
    }
    for part in ("escalated_by", "escalated_to"):
        fields = {
            name.removeprefix(f"{part}."): value
            for name, value in step.items()
            if name.startswith(f"{part}.")
        }
        escalation[part] = fields or None
    escalation["information_shared"] = _text(sections, "information-shared")
    escalation["response"] = _one(sections, "escalation-response") or None
    escalation["next_action"] = _text(sections, "next-action")
    escalation["early_warning_indicators"] = [
        item.get("contentString") for item in sections.get("early-warning-indicator", [])
    ]
    related = [
        reference.get("reference")
        for reference in _list(communication.get("basedOn"))
        if reference.get("reference") not in own
    ]
    escalation["related_referral"] = _related_id(related)
    return escalation


def _related_id(references: list[Any]) -> str | None:
    for reference in references:
        if isinstance(reference, str) and reference.startswith("ServiceRequest/"):
            return reference.removeprefix("ServiceRequest/")
    return None


def _sections(communication: Resource) -> dict[str, list[Resource]]:
    """The payload items by section code, in order."""
    found: dict[str, list[Resource]] = {}
    section_system = system_of(handover_codes.HANDOVER_SECTIONS)
    for item in _list(communication.get("payload")):
        coding = _mapping(extension_value(item, handover_codes.EXTENSION_SECTION, "valueCoding"))
        if coding.get("system") == section_system and isinstance(coding.get("code"), str):
            found.setdefault(coding["code"], []).append(item)
    return found


def _text(sections: dict[str, list[Resource]], code: str) -> Any:
    items = sections.get(code)
    return items[0].get("contentString") if items else None


def _one(
    sections: dict[str, list[Resource]], code: str, *, name_parts: bool = False
) -> dict[str, Any]:
    items = sections.get(code)
    fields = entry_fields(items[0]) if items else {}
    if name_parts:
        name = {part: fields.pop(part) for part in ("given", "family") if part in fields}
        if name:
            fields["name"] = name
        if "address" in fields:
            fields["address"] = dataset_address(fields["address"])
    return fields


def _ods(reference: Any) -> Any:
    identifier = _mapping(_mapping(reference).get("identifier"))
    return (
        identifier.get("value")
        if identifier.get("system") == codes.ODS_ORGANISATION_SYSTEM
        else None
    )


def _without_absent(value: Any) -> Any:
    """The body with None values and empty objects and lists left out, as a sender would."""
    if isinstance(value, dict):
        kept = {key: _without_absent(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, {}, [])}
    if isinstance(value, list):
        return [_without_absent(item) for item in value]
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []
