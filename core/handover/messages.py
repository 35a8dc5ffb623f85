"""FHIR messaging as BaRS uses it: a referral arrives as a `message` Bundle (MessageHeader
first, eventCoding servicerequest-request, focus the ServiceRequest) and is answered with
a response message (eventCoding servicerequest-response, response.identifier the id of
the request's MessageHeader, response.code ok).

`read_message` takes the request apart into what `dataset_fhir.dataset.from_fhir` needs;
the gateway then treats it exactly as a dataset sent as JSON. `request_message` and
`update_message` are what the gateway sends on to receivers: a referral, and a later
version of it (the same event, MessageHeader.reason `update`, as BaRS updates and
cancellations are).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.codes import common as codes
from core.codes import handover as handover_codes
from core.fhir.dates import format_instant
from core.fhir.issues import ContentError, Issue, IssueCode
from core.handover.fhir.elements import organisation
from core.handover.fhir.resources import DatasetResources

Resource = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ReferralMessage:
    header_id: str
    destination_ods: str
    service_request: Resource
    flags: tuple[Resource, ...]
    communication: Resource
    # How the message refers to its ServiceRequest (its fullUrl, and Type/id).
    service_request_references: frozenset[str]


def read_message(bundle: Resource) -> ReferralMessage:
    """The referral a message Bundle carries; ContentError naming what is wrong."""
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "message":
        raise _refused("Bundle.type", "The body must be a Bundle of type message.")
    entries = _list(bundle.get("entry"))
    resources = [_mapping(entry.get("resource")) for entry in entries]
    if not resources or resources[0].get("resourceType") != "MessageHeader":
        raise _refused("Bundle.entry[0]", "The first entry of a message must be its MessageHeader.")
    header = resources[0]
    if coded_event(header) != handover_codes.EVENT_SERVICE_REQUEST_REQUEST.code:
        raise _refused(
            "MessageHeader.eventCoding",
            "This gateway processes the BaRS event servicerequest-request "
            f"({handover_codes.MESSAGE_EVENTS_BARS_SYSTEM}).",
        )
    if _coded_reason(header) not in (None, handover_codes.REASON_NEW.code):
        raise _refused(
            "MessageHeader.reason",
            "This gateway takes new referrals by message (reason new, "
            f"{handover_codes.MESSAGE_REASON_BARS_SYSTEM}); change one it holds with a FHIR update "
            "(PUT) of its ServiceRequest.",
        )
    header_id = header.get("id")
    if not isinstance(header_id, str):
        raise _refused("MessageHeader.id", "The MessageHeader must have an id.")
    by_reference = _index(entries)
    focus = _list(header.get("focus"))
    target = by_reference.get(str(focus[0].get("reference"))) if focus else None
    if target is None or target.get("resourceType") != "ServiceRequest":
        raise _refused(
            "MessageHeader.focus",
            "MessageHeader.focus must refer to the ServiceRequest in the Bundle.",
        )
    references = frozenset(key for key, resource in by_reference.items() if resource is target)
    destination = _list(header.get("destination"))
    receiver = _mapping(destination[0].get("receiver")) if destination else {}
    receiver_ods = _ods(receiver)
    if receiver_ods is None:
        raise _refused(
            "MessageHeader.destination.receiver",
            "MessageHeader.destination.receiver must name the receiving organisation by its "
            f"ODS code ({codes.ODS_ORGANISATION_SYSTEM}).",
        )
    flags = tuple(
        resource
        for info in _list(target.get("supportingInfo"))
        if (resource := by_reference.get(str(info.get("reference")))) is not None
        and resource.get("resourceType") == "Flag"
    )
    communications = [
        resource
        for resource in resources
        if resource.get("resourceType") == "Communication"
        and any(str(ref.get("reference")) in references for ref in _list(resource.get("basedOn")))
    ]
    if len(communications) != 1:
        raise _refused(
            "Bundle.entry",
            "The message must hold one Communication based on its ServiceRequest "
            "(the handover or escalation itself).",
        )
    return ReferralMessage(header_id, receiver_ods, target, flags, communications[0], references)


def _coded_reason(header: Resource) -> str | None:
    """The BaRS message reason's code; "unreadable" for a reason in another system."""
    reason = _mapping(header.get("reason"))
    if not reason:
        return None
    for coding in _list(reason.get("coding")):
        if coding.get("system") == handover_codes.MESSAGE_REASON_BARS_SYSTEM:
            return str(coding.get("code"))
    return "unreadable"


def coded_event(header: Resource) -> str | None:
    coding = _mapping(header.get("eventCoding"))
    if coding.get("system") != handover_codes.MESSAGE_EVENTS_BARS_SYSTEM:
        return None
    code = coding.get("code")
    return code if isinstance(code, str) else None


def response_message(
    request: ReferralMessage,
    *,
    bundle_id: str,
    header_id: str,
    gateway_url: str,
    sender_ods: str,
    now: datetime,
    focus: Sequence[str],
) -> dict[str, Any]:
    """The answer to an accepted message: response.code ok, focus the resources made."""
    header = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "eventCoding": handover_codes.EVENT_SERVICE_REQUEST_RESPONSE.coding(),
        "destination": [{"endpoint": gateway_url, "receiver": organisation(sender_ods)}],
        "source": {"endpoint": gateway_url},
        "response": {"identifier": request.header_id, "code": "ok"},
        "focus": [{"reference": reference} for reference in focus],
    }
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "message",
        "timestamp": format_instant(now, fixed_width=False),
        "entry": [{"fullUrl": f"urn:uuid:{header_id}", "resource": header}],
    }


def _index(entries: Sequence[Resource]) -> dict[str, Resource]:
    """Each resource by every way a reference may name it: fullUrl and Type/id."""
    found: dict[str, Resource] = {}
    for entry in entries:
        resource = _mapping(entry.get("resource"))
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str):
            found[full_url] = resource
        kind, resource_id = resource.get("resourceType"), resource.get("id")
        if isinstance(kind, str) and isinstance(resource_id, str):
            found.setdefault(f"{kind}/{resource_id}", resource)
    return found


def _ods(reference: Resource) -> str | None:
    identifier = _mapping(reference.get("identifier"))
    value = identifier.get("value")
    if identifier.get("system") == codes.ODS_ORGANISATION_SYSTEM and isinstance(value, str):
        return value
    return None


def _refused(expression: str, message: str) -> ContentError:
    return ContentError([Issue(IssueCode.INVALID, message, expression)])


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def request_message(
    resources: DatasetResources,
    *,
    message_id: str,
    gateway_url: str,
    endpoint: str,
    sender_ods: str,
    receiver_ods: str,
    now: datetime,
) -> dict[str, Any]:
    """A BaRS referral message carrying a stored dataset's resources to a receiver's
    system: MessageHeader (servicerequest-request, reason new, focus the ServiceRequest), then the
    ServiceRequest, its Flags, the Communication and the Provenance, each under its
    gateway URL so the receiver can refer back to it."""
    header = _request_header(
        message_id, gateway_url, endpoint, sender_ods, receiver_ods, resources.service_request
    )
    header["reason"] = {"coding": [handover_codes.REASON_NEW.coding()]}
    return _message(header, resources.all(), gateway_url, now)


def update_message(
    service_request: Resource,
    updated: Resource,
    *,
    message_id: str,
    gateway_url: str,
    endpoint: str,
    sender_ods: str,
    receiver_ods: str,
    now: datetime,
) -> dict[str, Any]:
    """A BaRS update to a referral the receiver already has: the request's eventCoding
    (servicerequest-request) with reason `update`, focus the ServiceRequest, carrying
    only what changed: the ServiceRequest as it now stands (so a cancellation reads as
    status revoked) and, when another resource was updated, that resource. Each is the
    stored version, meta.versionId included, under its gateway URL."""
    header = _request_header(
        message_id, gateway_url, endpoint, sender_ods, receiver_ods, service_request
    )
    header["reason"] = {"coding": [handover_codes.REASON_UPDATE.coding()]}
    carried = [service_request]
    if updated.get("resourceType") != "ServiceRequest":
        carried.append(updated)
    return _message(header, carried, gateway_url, now)


def _request_header(
    message_id: str,
    gateway_url: str,
    endpoint: str,
    sender_ods: str,
    receiver_ods: str,
    service_request: Resource,
) -> dict[str, Any]:
    return {
        "resourceType": "MessageHeader",
        "id": message_id,
        "eventCoding": handover_codes.EVENT_SERVICE_REQUEST_REQUEST.coding(),
        "destination": [{"endpoint": endpoint, "receiver": organisation(receiver_ods)}],
        "sender": organisation(sender_ods),
        "source": {"endpoint": gateway_url},
        "focus": [{"reference": f"{gateway_url}/ServiceRequest/{service_request['id']}"}],
    }


def _message(
    header: dict[str, Any], carried: Sequence[Resource], gateway_url: str, now: datetime
) -> dict[str, Any]:
    """A message Bundle: the header, then each resource under its gateway URL."""
    entries = [{"fullUrl": f"urn:uuid:{header['id']}", "resource": header}]
    entries += [
        {
            "fullUrl": f"{gateway_url}/{resource['resourceType']}/{resource['id']}",
            "resource": resource,
        }
        for resource in carried
    ]
    return {
        "resourceType": "Bundle",
        "id": header["id"],
        "type": "message",
        "timestamp": format_instant(now, fixed_width=False),
        "entry": entries,
    }


def as_transaction(message: Mapping[str, Any]) -> dict[str, Any]:
    """The resources a message carries, as a transaction Bundle for a receiver that takes
    FHIR transactions instead of messages: each resource PUT under the id the gateway
    gave it, so a retry updates what the first attempt stored and never makes a second
    record. No MessageHeader; relative references between the resources resolve on the
    receiver, which holds them under the same ids."""
    entries = _list(message.get("entry"))[1:]  # after the MessageHeader
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "timestamp": message.get("timestamp"),
        "entry": [
            {
                "resource": entry["resource"],
                "request": {
                    "method": "PUT",
                    "url": f"{entry['resource']['resourceType']}/{entry['resource']['id']}",
                },
            }
            for entry in entries
        ],
    }
