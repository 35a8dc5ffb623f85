"""Codes of the handover minimum dataset and escalation summary, and their FHIR mapping."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from core.codes.common import (
    GATEWAY_CODE_SYSTEM_BASE,
    GATEWAY_IDENTIFIER_BASE,
    PROVENANCE_PARTICIPANT_TYPE_SYSTEM,
    Code,
)
from core.fhir import parties

# --- The handover minimum dataset and escalation summary --------------------------------------
#
# The spec's enumerations have no standard code system (no SNOMED CT or HL7 code names a
# pathway, a request type or an escalation ladder level), so each is a CodeSystem the
# gateway owns, with the spec's value as the code. Risk flags carry a SNOMED CT code as
# well where one exists (RISK_SNOMED below); the gateway's risk-type code is always there.


def _code_system(name: str, displays: dict[str, str]) -> MappingProxyType[str, Code]:
    system = GATEWAY_CODE_SYSTEM_BASE + name
    return MappingProxyType({code: Code(system, code, text) for code, text in displays.items()})


PATHWAYS: Final = _code_system(
    "pathway",
    {
        "referral": "Referral",
        "step-up": "Step-up request",
        "crisis": "Crisis",
        "discharge-follow-up": "Discharge follow-up",
        "safeguarding": "Safeguarding concern",
    },
)
REQUEST_TYPES: Final = _code_system(
    "request-type",
    {
        "assessment": "Assessment",
        "step-up": "Step up of care",
        "crisis-response": "Crisis response",
        "admission": "Admission",
        "advice": "Advice",
        "safeguarding-strategy": "Safeguarding strategy discussion",
        "follow-up": "Follow-up",
    },
)
RISK_TYPES: Final = _code_system(
    "risk-type",
    {
        "self-harm": "Risk of self-harm",
        "suicide": "Risk of suicide",
        "harm-to-others": "Risk of harm to others",
        "harm-from-others": "Risk of harm from others",
        "exploitation": "Risk of exploitation",
        "self-neglect": "Risk of self-neglect",
        "safeguarding": "Safeguarding risk",
        "other": "Other risk",
    },
)
RISK_LEVELS: Final = _code_system(
    "risk-level", {"low": "Low risk", "medium": "Medium risk", "high": "High risk"}
)
DATASET_KINDS: Final = _code_system(
    "communication-category",
    {"handover": "Handover", "escalation": "Escalation summary"},
)
# A notice the gateway writes when an escalation's ladder moves without a person: a step
# not answered in time was stepped up, or the top of the ladder was not answered. In the
# same CodeSystem as the datasets' kinds, but never a dataset kind itself.
LADDER_NOTICE_CATEGORY: Final = Code(
    GATEWAY_CODE_SYSTEM_BASE + "communication-category",
    "ladder-notice",
    "Escalation ladder notice",
)
LADDER_NOTICES: Final = _code_system(
    "ladder-notice",
    {
        "stepped-up": "No response in time: stepped up to the next level",
        "ladder-exhausted": "No response at the top of the ladder",
        "step-up-refused": "No response in time: not stepped up, as sharing is not permitted",
        "overdue-escalated": "Safeguarding work overdue: escalated to the owner's next level",
        "overdue-exhausted": "Safeguarding work overdue at the top of the owner's ladder",
        "overdue-notice-refused": (
            "Safeguarding work overdue: its owner could not be told, as sharing is not permitted"
        ),
    },
)
# On an escalation's ServiceRequest: one of several about the same person from the same
# organisation in a short time (pathways.yaml repeat_escalations); a review is open.
REPEAT_ESCALATION: Final = Code(
    GATEWAY_CODE_SYSTEM_BASE + "escalation-flag", "repeat", "Repeat escalation"
)
ESCALATION_LEVELS: Final = _code_system(
    "escalation-level",
    {
        "front-line": "Front-line escalation",
        "manager": "Manager escalation",
        "senior": "Senior escalation",
    },
)
SHARING_BASES: Final = _code_system(
    "sharing-basis",
    {
        "direct-care-implied": "Direct care, implied consent",
        "explicit-consent": "Explicit consent",
        "safeguarding": "Shared without consent to protect someone",
    },
)
# The parts of a handover Communication, in the fixed order its payload follows.
HANDOVER_SECTIONS: Final = _code_system(
    "handover-section",
    {
        "patient": "Person",
        "sender-contact": "Who to call back",
        "key-risks": "Key risks",
        "current-presentation": "Current presentation",
        "what-has-changed": "What has changed",
        "action-taken": "Action already taken",
        "current-plan": "Current plan",
        "request": "What is being requested",
        "sharing": "Basis for sharing",
        "legal": "Legal status and capacity",
        "escalation-step": "Escalation step",
        "information-shared": "Information shared",
        "early-warning-indicator": "Early warning indicator",
        "escalation-response": "Response received",
        "next-action": "Next action",
    },
)
# meta.tag on a ServiceRequest the referral checklist found gaps in (warnings).
COMPLETENESS: Final = _code_system(
    "completeness", {"incomplete": "Incomplete: the referral checklist found gaps"}
)
INCOMPLETE: Final = COMPLETENESS["incomplete"]
# meta.tag on a ServiceRequest whose respond-by had already passed when the gateway received
# it (beyond the configured allowance for clock differences): accepted, never refused, and
# marked so that a Trust pulling it sees at once that it is late.
TIMELINESS: Final = _code_system(
    "timeliness",
    {"overdue-on-receipt": "Overdue on receipt: its respond-by had passed when it was received"},
)
OVERDUE_ON_RECEIPT: Final = TIMELINESS["overdue-on-receipt"]
# The reasons a receiver gives for declining a handover: the codes are configured per
# deployment (pathways.yaml, decline_reasons), in this system.
DECLINE_REASON_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "decline-reason"

# Identifier system for the sender's own id of a handover (`external_id`); the sender's
# ODS code is the identifier's assigner. Provenance names the dataset it was made from
# by its SHA-256, under the second system.
EXTERNAL_ID_SYSTEM: Final = GATEWAY_IDENTIFIER_BASE + "handover-external-id"
DATASET_SHA256_SYSTEM: Final = GATEWAY_IDENTIFIER_BASE + "dataset-sha256"

# Extensions the gateway defines, where FHIR R4 has no element for a dataset field.
GATEWAY_EXTENSION_BASE: Final = "https://fhir.mh-gateway.example.org/StructureDefinition/"
EXTENSION_LOCALITY: Final = GATEWAY_EXTENSION_BASE + "locality"
EXTENSION_SECTION: Final = GATEWAY_EXTENSION_BASE + "handover-section"
EXTENSION_DATASET_ENTRY: Final = GATEWAY_EXTENSION_BASE + "dataset-entry"
EXTENSION_RISK_LEVEL: Final = GATEWAY_EXTENSION_BASE + "risk-level"
# On an escalation step's Communication: when its receiver must respond by (the earlier
# of the sender's respond-by and the ladder level's time), and the step it stepped up
# from. R4 Communication has no element for either.
EXTENSION_RESPONSE_DEADLINE: Final = GATEWAY_EXTENSION_BASE + "response-deadline"
EXTENSION_PREVIOUS_STEP: Final = GATEWAY_EXTENSION_BASE + "escalation-previous-step"
# On a ServiceRequest, repeating: one dataset field path (valueString, in the spec's
# names) the referral checklist found missing, so a Trust that pulls the FHIR knows the
# gaps without asking for the summary.
EXTENSION_CHECKLIST_GAP: Final = GATEWAY_EXTENSION_BASE + "checklist-gap"
# On a Flag: an organisation it was shared with (R4 Flag has no recipient element).
EXTENSION_RECIPIENT: Final = parties.EXTENSION_RECIPIENT

# UK Core: the NHS number's verification status, an extension on the NHS number
# identifier (Extension-UKCore-NHSNumberVerificationStatus, valueCodeableConcept, required
# binding to the England CodeSystem).
EXTENSION_NHS_NUMBER_VERIFICATION: Final = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
NHS_NUMBER_VERIFICATION_SYSTEM: Final = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
)
NHS_NUMBER_VERIFICATION: Final = MappingProxyType(
    {
        code: Code(NHS_NUMBER_VERIFICATION_SYSTEM, code, display)
        for code, display in (
            ("01", "Number present and verified"),
            ("02", "Number present but not traced"),
            ("03", "Trace required"),
            ("04", "Trace attempted - No match or multiple match found"),
            ("05", "Trace needs to be resolved - (NHS number or patient detail conflict)"),
            ("06", "Trace in progress"),
            ("07", "Number not present and trace not required"),
            ("08", "Trace postponed (baby under six weeks old)"),
        )
    }
)

# HL7 flag-category (THO), an example binding for Flag.category: a risk is a safety flag.
FLAG_CATEGORY_SAFETY: Final = Code(
    "http://terminology.hl7.org/CodeSystem/flag-category", "safety", "Safety"
)
# HL7 provenance-participant-type (THO): the organisation that sent the dataset.
PROVENANCE_AUTHOR: Final = Code(PROVENANCE_PARTICIPANT_TYPE_SYSTEM, "author", "Author")
# ... and the gateway, when its own workflow changes a record (core.handover.workflow_provenance).
PROVENANCE_PERFORMER: Final = Code(PROVENANCE_PARTICIPANT_TYPE_SYSTEM, "performer", "Performer")
# HL7 v3 DataOperation (THO), the example binding of Provenance.activity: a record revised.
DATA_OPERATION_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
ACTIVITY_UPDATE: Final = Code(DATA_OPERATION_SYSTEM, "UPDATE", "revise")
ACTIVITY_CREATE: Final = Code(DATA_OPERATION_SYSTEM, "CREATE", "create")

# SNOMED CT findings for the risk types that have one, each seen with its code in a
# published NHS source (BaRS safeguarding codes; the FHIR R4 examples for 225444004).
# SNOMED is re-terming "At risk for ..." as "At increased risk for ..."; the codes stand.
# No concept matches exploitation of every kind, harm from others, self-neglect as a
# risk, or safeguarding of adults and children alike: those carry the gateway's code only.
SNOMED_SYSTEM: Final = "http://snomed.info/sct"
RISK_SNOMED: Final = MappingProxyType(
    {
        "self-harm": Code(SNOMED_SYSTEM, "401206008", "At risk for deliberate self harm"),
        "suicide": Code(SNOMED_SYSTEM, "225444004", "At risk for suicide"),
        "harm-to-others": Code(SNOMED_SYSTEM, "129707006", "At risk for other-directed violence"),
    }
)

# FHIR messaging, BaRS: the event of a referral message and of its response.
MESSAGE_EVENTS_BARS_SYSTEM: Final = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
EVENT_SERVICE_REQUEST_REQUEST: Final = Code(
    MESSAGE_EVENTS_BARS_SYSTEM, "servicerequest-request", "Service Request - Request"
)
EVENT_SERVICE_REQUEST_RESPONSE: Final = Code(
    MESSAGE_EVENTS_BARS_SYSTEM, "servicerequest-response", "Service Request - Response"
)

# BaRS MessageHeader.reason: whether a message is new to the receiver or an update to
# something it already has (a later version of a referral, a cancellation). BaRS keeps
# the request's eventCoding on an update; the reason says it is one.
MESSAGE_REASON_BARS_SYSTEM: Final = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
REASON_NEW: Final = Code(MESSAGE_REASON_BARS_SYSTEM, "new", "New")
REASON_UPDATE: Final = Code(MESSAGE_REASON_BARS_SYSTEM, "update", "Update")
