"""Dataset fields in words, for people: the referral checklist's messages and the
summary page's "missing" box name fields the same way."""

from __future__ import annotations

import re

_POSITION = re.compile(r"\[([0-9]+)\]")

# Field paths (dotted, in the spec's names), in words. List positions, should a path
# carry any, are dropped before the lookup.
FIELD_NAMES = {
    "external_id": "sender's reference",
    "pathway": "pathway",
    "locality": "locality",
    "dataset": "kind of dataset",
    "patient": "person",
    "patient.nhs_number": "NHS number",
    "patient.nhs_number_status": "NHS number verification status",
    "patient.local_identifier": "local identifier",
    "patient.local_identifier.system": "local identifier system",
    "patient.local_identifier.value": "local identifier",
    "patient.name": "person's name",
    "patient.name.given": "person's given name",
    "patient.name.family": "person's family name",
    "patient.birth_date": "date of birth",
    "patient.address": "person's address",
    "patient.address.lines": "address lines",
    "patient.address.city": "town or city",
    "patient.address.postcode": "postcode",
    "sender": "sender",
    "sender.ods": "sending organisation",
    "sender.team": "sending team",
    "sender.practitioner": "sending practitioner",
    "sender.role": "sender's role",
    "sender.contact": "call-back number",
    "receiver": "receiver",
    "receiver.ods": "receiving organisation",
    "receiver.service": "receiving service",
    "current_presentation": "current presentation",
    "key_risks": "key risks",
    "key_risks.type": "key risk type",
    "key_risks.level": "key risk level",
    "key_risks.description": "key risk description",
    "key_risks.since": "when a key risk began",
    "what_has_changed": "what has changed",
    "actions_taken": "actions already taken",
    "actions_taken.action": "action taken",
    "actions_taken.at": "when an action was taken",
    "actions_taken.by": "who took an action",
    "current_plan": "current plan",
    "request": "what is being requested",
    "request.summary": "summary of the request",
    "request.type": "type of request",
    "time_sensitivity": "priority and respond-by time",
    "time_sensitivity.priority": "priority",
    "time_sensitivity.respond_by": "respond-by time",
    "sharing": "basis for sharing",
    "sharing.basis": "basis for sharing",
    "sharing.consent_obtained": "whether consent was obtained",
    "sharing.reason_if_not": "reason consent was not obtained",
    "legal": "legal status and capacity",
    "legal.mental_health_act_status": "Mental Health Act status",
    "legal.capacity_concerns": "whether there are capacity concerns",
    "escalation": "escalation step",
    "escalation.level": "escalation level",
    "escalation.escalated_at": "when the escalation was made",
    "escalation.escalated_by": "who escalated",
    "escalation.escalated_by.name": "name of who escalated",
    "escalation.escalated_by.role": "role of who escalated",
    "escalation.escalated_by.team": "team of who escalated",
    "escalation.escalated_to": "who it was escalated to",
    "escalation.escalated_to.ods": "organisation escalated to",
    "escalation.escalated_to.service": "service escalated to",
    "escalation.escalated_to.role": "role escalated to",
    "escalation.information_shared": "information shared",
    "escalation.response": "response received",
    "escalation.response.received_at": "when the response was received",
    "escalation.response.from": "who responded",
    "escalation.response.summary": "summary of the response",
    "escalation.next_action": "next action",
    "escalation.early_warning_indicators": "early warning indicators",
    "escalation.related_referral": "related referral",
}


def field_name(path: str) -> str:
    """A checklist field path in words: "key_risks[1].level" -> "key risk level (item 2)".

    A path nobody has named yet comes back as it is.
    """
    positions = [int(found) + 1 for found in _POSITION.findall(path)]
    name = FIELD_NAMES.get(_POSITION.sub("", path))
    if name is None:
        return path
    if positions:
        name += " (item " + ", ".join(str(position) for position in positions) + ")"
    return name
