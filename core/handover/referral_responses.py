"""A Communication that responds to another (`inResponseTo`): a Trust answering a
handover or an escalation summary, or the referrer replying to that answer.

    Communication.inResponseTo  one reference, Communication/<id>, to one the caller
                                received (the shell checks that it may see it and is
                                among its recipients)
    Communication.basedOn       the ServiceRequest(s) the answered one is based on:
                                filled in when left out; naming any other is refused
    Communication.subject       the answered one's (filled in when left out)
    Communication.recipient     includes the answered one's sender (added when missing)

The response to an escalation is also recorded on it, as the dataset's
`escalation.response`: `received_at` is `sent` (else when the gateway stored it), `from`
the responding organisation, `summary` the text of the payload.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from core.codes import common as codes
from core.codes import handover as handover_codes
from core.fhir.dates import format_instant, parse_date_range
from core.fhir.issues import ContentError, Issue, IssueCode
from core.fhir.parties import party_references
from core.handover.answer_links import local_id, references_to, same_subject, with_data_categories
from core.handover.dataset import EscalationResponse


def answered_id(response: Mapping[str, Any]) -> str:
    """The id of the one Communication the response answers; ContentError otherwise."""
    answered = response.get("inResponseTo")
    ids = (
        [local_id(item, "Communication") for item in answered] if isinstance(answered, list) else []
    )
    if len(ids) != 1 or ids[0] is None:
        raise ContentError(
            [
                _issue(
                    "Communication.inResponseTo must name one Communication, as "
                    "Communication/<id> (the id the gateway gave it).",
                    "Communication.inResponseTo",
                )
            ],
            business_rule=True,
        )
    return ids[0]


def linked_response(response: Mapping[str, Any], answered: Mapping[str, Any]) -> dict[str, Any]:
    """The response as it will be stored, linked to what it answers; ContentError
    listing every rule it breaks."""
    linked = copy.deepcopy(dict(response))
    issues = _based_on_issues(linked, answered)
    issues += same_subject("Communication", linked, "subject", "Communication", answered, "subject")
    if issues:
        raise ContentError(issues, business_rule=True)
    _address_to_sender(linked, answered)
    with_data_categories(linked, answered)
    return linked


def service_request_ids(communication: Mapping[str, Any]) -> list[str]:
    return references_to(communication, "basedOn", "ServiceRequest")


def is_escalation_summary(communication: Mapping[str, Any]) -> bool:
    escalation = handover_codes.DATASET_KINDS["escalation"]
    categories = communication.get("category")
    return any(
        isinstance(coding, Mapping)
        and coding.get("system") == escalation.system
        and coding.get("code") == escalation.code
        for concept in (categories if isinstance(categories, list) else [])
        if isinstance(concept, Mapping)
        for coding in (concept.get("coding") or [])
    )


def escalation_response(
    response: Mapping[str, Any], responder: str, *, now: datetime, skew: timedelta
) -> EscalationResponse:
    """The dataset's escalation.response a response Communication records."""
    sent = response.get("sent")
    received_at = now
    if isinstance(sent, str):
        span = parse_date_range(sent)
        if span is None or span.low > now + skew:
            raise ContentError(
                [_issue("Communication.sent must not be in the future.", "Communication.sent")],
                business_rule=True,
            )
        received_at = span.low
    texts = [
        str(item["contentString"]).strip()
        for item in response.get("payload") or []
        if isinstance(item, Mapping) and isinstance(item.get("contentString"), str)
    ]
    summary = "\n\n".join(text for text in texts if text) or None
    try:
        return EscalationResponse.model_validate(
            {"received_at": received_at.isoformat(), "from": responder, "summary": summary}
        )
    except ValidationError:
        raise ContentError(
            [
                _issue(
                    "Communication.payload.contentString must be plain text (no control "
                    "characters) to be recorded as the escalation's response.",
                    "Communication.payload",
                )
            ],
            business_rule=True,
        ) from None


def escalation_answer(
    response: EscalationResponse, responder_ods: str, answered_id: str, *, now: datetime
) -> dict[str, Any]:
    """The responder's own Communication for a response given as the dataset's
    `escalation.response` (POST /api/escalations/{id}/responses): sent by the responder,
    in response to the escalation's summary; `linked_response` adds the rest. `from` (who
    at the responder answered) is the sender's display; `summary` the payload."""
    sender: dict[str, Any] = {
        "identifier": {"system": codes.ODS_ORGANISATION_SYSTEM, "value": responder_ods}
    }
    if response.from_:
        sender["display"] = response.from_
    received_at = response.received_at or now
    answer: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "inResponseTo": [{"reference": f"Communication/{answered_id}"}],
        "sent": format_instant(received_at, fixed_width=False),
        "sender": sender,
    }
    if response.summary:
        answer["payload"] = [{"contentString": response.summary}]
    return answer


@dataclass(frozen=True, slots=True)
class ResponseSummary:
    """What the referrer is shown of a response: who, when, and where to read it."""

    communication_id: str
    status: str | None
    sender: str | None  # the sender's ODS code, or its Organization reference
    sent: str | None
    received_at: str | None  # when the gateway stored it (meta.lastUpdated)

    def as_json(self) -> dict[str, Any]:
        return {
            "communication": f"Communication/{self.communication_id}",
            "status": self.status,
            "from": self.sender,
            "sent": self.sent,
            "received_at": self.received_at,
        }


def response_summary(response: Mapping[str, Any]) -> ResponseSummary:
    senders = [
        reference.ods_code or f"Organization/{reference.organization_id}"
        for reference in party_references("Communication", response)
        if reference.basis == "sender"
    ]
    meta = response.get("meta")
    return ResponseSummary(
        communication_id=str(response.get("id", "")),
        status=_text(response.get("status")),
        sender=senders[0] if senders else None,
        sent=_text(response.get("sent")),
        received_at=_text(meta.get("lastUpdated")) if isinstance(meta, Mapping) else None,
    )


def _based_on_issues(response: dict[str, Any], answered: Mapping[str, Any]) -> list[Issue]:
    theirs = service_request_ids(answered)
    if response.get("basedOn") is None:
        if theirs:
            response["basedOn"] = [{"reference": f"ServiceRequest/{i}"} for i in theirs]
        return []
    based_on = response["basedOn"]
    ours = references_to(response, "basedOn", "ServiceRequest")
    if isinstance(based_on, list) and len(ours) == len(based_on) and set(ours) <= set(theirs):
        return []
    return [
        _issue(
            "Communication.basedOn must name only the ServiceRequest the answered "
            "Communication is based on (or be left out: the gateway fills it in).",
            "Communication.basedOn",
        )
    ]


def _address_to_sender(response: dict[str, Any], answered: Mapping[str, Any]) -> None:
    """A response goes back to whoever sent what it answers."""
    sender = answered.get("sender")
    if not isinstance(sender, Mapping):
        return
    theirs = {
        (r.ods_code, r.organization_id)
        for r in party_references("Communication", answered)
        if r.basis == "sender"
    }
    addressed = {
        (r.ods_code, r.organization_id)
        for r in party_references("Communication", response)
        if r.basis == "recipient"
    }
    if not theirs & addressed:
        response["recipient"] = [*(response.get("recipient") or []), copy.deepcopy(dict(sender))]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _issue(message: str, expression: str) -> Issue:
    return Issue(IssueCode.BUSINESS_RULE, message, expression)
