"""Every code system, and every code, the gateway uses outside FHIR core: one module.

Each code names its source. Standard systems (DICOM, HL7 terminology, IHE BALP) are used
only with codes they define; where no standard code fits, the code lives in a CodeSystem
the gateway owns, under ``https://fhir.mh-gateway.example.org/CodeSystem/<name>``, and its
identifier systems under ``https://fhir.mh-gateway.example.org/Id/<name>``.

Codes FHIR core binds as plain ``code`` values (AuditEvent.action, .outcome,
.agent.network.type) are not listed here; the AuditEvent builder names them where it uses
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from core.fhir import identifiers, parties


@dataclass(frozen=True, slots=True)
class Code:
    """One code in one system, with the display its source gives it."""

    system: str
    code: str
    display: str

    def coding(self) -> dict[str, str]:
        """As a FHIR Coding."""
        return {"system": self.system, "code": self.code, "display": self.display}

    @property
    def uri(self) -> str:
        """As one URI, its system and code joined by "#", for an element that names a
        concept in a plain string (R4's AuditEvent.entity.detail.type)."""
        return f"{self.system}#{self.code}"


# UK Core identifier systems: defined once, with their checks, in core.fhir.identifiers.
NHS_NUMBER_SYSTEM: Final = identifiers.NHS_NUMBER_SYSTEM
ODS_ORGANISATION_SYSTEM: Final = identifiers.ODS_ORGANISATION_SYSTEM
ODS_SITE_SYSTEM: Final = identifiers.ODS_SITE_SYSTEM

# --- The gateway's own namespaces -------------------------------------------------------

GATEWAY_CODE_SYSTEM_BASE: Final = "https://fhir.mh-gateway.example.org/CodeSystem/"
GATEWAY_IDENTIFIER_BASE: Final = "https://fhir.mh-gateway.example.org/Id/"

AUDIT_SUBTYPE_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "audit-subtype"
GATEWAY_AUDIT_ENTITY_TYPE_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "audit-entity-type"
AUDIT_ENTITY_DETAIL_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "audit-entity-detail"
AUDIT_AGENT_ROLE_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "audit-agent-role"
PURPOSE_OF_USE_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "purpose-of-use"

# Identifier systems the gateway owns: a registered client's id, and the BaRS
# X-Request-ID / X-Correlation-ID header values as sent.
CLIENT_ID_SYSTEM: Final = GATEWAY_IDENTIFIER_BASE + "client-id"
X_REQUEST_ID_SYSTEM: Final = GATEWAY_IDENTIFIER_BASE + "x-request-id"
X_CORRELATION_ID_SYSTEM: Final = GATEWAY_IDENTIFIER_BASE + "x-correlation-id"

# IETF RFC 3986 (FHIR R4 Identifier guidance): the identifier's value is itself a URI.
# Used for the gateway's own identity, which is its base URL.
URI_IDENTIFIER_SYSTEM: Final = "urn:ietf:rfc:3986"

# --- Standard code systems ----------------------------------------------------------------

DICOM_SYSTEM: Final = "http://dicom.nema.org/resources/ontology/DCM"  # DICOM PS3.16
AUDIT_EVENT_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION_SYSTEM: Final = "http://hl7.org/fhir/restful-interaction"
AUDIT_ENTITY_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/object-role"
SECURITY_SOURCE_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/security-source-type"
V3_PARTICIPATION_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
V3_ROLE_CLASS_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
EXTRA_SECURITY_ROLE_TYPE_SYSTEM: Final = (
    "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
)
PROVENANCE_PARTICIPANT_TYPE_SYSTEM: Final = (
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
)
V2_IDENTIFIER_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
BALP_ENTITY_TYPE_SYSTEM: Final = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
BALP_USER_AGENT_TYPE_SYSTEM: Final = "https://profiles.ihe.net/ITI/BALP/CodeSystem/UserAgentTypes"

# IHE BALP extension "ihe-otherId" (AuditEvent.agent): further identifiers of one agent.
BALP_OTHER_ID_EXTENSION: Final = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/ihe-otherId"

# --- AuditEvent.type ------------------------------------------------------------------------

# HL7 audit-event-type (THO), as every IHE BALP RESTful profile fixes it.
EVENT_TYPE_REST: Final = Code(AUDIT_EVENT_TYPE_SYSTEM, "rest", "Restful Operation")
# DICOM PS3.16 CID 400 "Audit Event ID"; messages in DICOM PS3.15 A.5.3.1, .11, .12.
EVENT_TYPE_APPLICATION_ACTIVITY: Final = Code(DICOM_SYSTEM, "110100", "Application Activity")
EVENT_TYPE_SECURITY_ALERT: Final = Code(DICOM_SYSTEM, "110113", "Security Alert")
EVENT_TYPE_USER_AUTHENTICATION: Final = Code(DICOM_SYSTEM, "110114", "User Authentication")


# --- AuditEvent.subtype ---------------------------------------------------------------------


def _gateway_subtype(code: str, display: str) -> Code:
    return Code(AUDIT_SUBTYPE_SYSTEM, code, display)


class Subtype:
    """The interaction an AuditEvent records (AuditEvent.subtype), as named constants."""

    # FHIR R4 CodeSystem restful-interaction: the display of each code is the code itself.
    CREATE: Final = Code(RESTFUL_INTERACTION_SYSTEM, "create", "create")
    READ: Final = Code(RESTFUL_INTERACTION_SYSTEM, "read", "read")
    VREAD: Final = Code(RESTFUL_INTERACTION_SYSTEM, "vread", "vread")
    UPDATE: Final = Code(RESTFUL_INTERACTION_SYSTEM, "update", "update")
    DELETE: Final = Code(RESTFUL_INTERACTION_SYSTEM, "delete", "delete")
    PATCH: Final = Code(RESTFUL_INTERACTION_SYSTEM, "patch", "patch")
    SEARCH_TYPE: Final = Code(RESTFUL_INTERACTION_SYSTEM, "search-type", "search-type")
    HISTORY_INSTANCE: Final = Code(
        RESTFUL_INTERACTION_SYSTEM, "history-instance", "history-instance"
    )
    OPERATION: Final = Code(RESTFUL_INTERACTION_SYSTEM, "operation", "operation")
    TRANSACTION: Final = Code(RESTFUL_INTERACTION_SYSTEM, "transaction", "transaction")

    # DICOM PS3.15 A.5.3.12 User Authentication: token issue and refusal alike (the
    # outcome tells them apart).
    LOGIN: Final = Code(DICOM_SYSTEM, "110122", "Login")
    # DICOM PS3.16 CID 403 "Security Alert Type": break-glass is an emergency override of
    # access control, and DICOM has the code, so the gateway does not mint one.
    BREAK_GLASS: Final = Code(DICOM_SYSTEM, "110127", "Emergency Override Started")

    # Gateway-owned (audit-subtype): no standard code names these.
    PROCESS_MESSAGE: Final = _gateway_subtype("process-message", "FHIR $process-message")
    HANDOVER_PUSH: Final = _gateway_subtype("handover-push", "Handover pushed")
    ESCALATION_PUSH: Final = _gateway_subtype("escalation-push", "Escalation pushed")
    DELIVERY_ATTEMPT: Final = _gateway_subtype("delivery-attempt", "Delivery attempt")
    CONSENT_DENIAL: Final = _gateway_subtype(
        "consent-denial", "Denied by consent or data-sharing agreement"
    )
    CONFIGURATION_LOAD: Final = _gateway_subtype("configuration-load", "Configuration load")
    AUDIT_EXPORT: Final = _gateway_subtype("audit-export", "Audit log export")
    AUDIT_ARCHIVE: Final = _gateway_subtype("audit-archive", "Audit log archive")
    CHECKPOINT: Final = _gateway_subtype("checkpoint", "Audit log checkpoint")
    PATIENT_ACCESS_REPORT: Final = _gateway_subtype(
        "patient-access-report", "Patient access report"
    )
    OUTBOX_COMMAND: Final = _gateway_subtype("outbox-command", "Outbox operator command")
    # A refused request in an HTTP method FHIR gives no interaction (OPTIONS, TRACE...).
    UNSUPPORTED_METHOD: Final = _gateway_subtype(
        "unsupported-method", "Request in an HTTP method the gateway does not take"
    )


SUBTYPES: Final[tuple[Code, ...]] = tuple(
    value for value in vars(Subtype).values() if isinstance(value, Code)
)

# --- AuditEvent.agent.type ------------------------------------------------------------------

# DICOM PS3.16 CID 402 "Audit Active Participant Role ID": the direction data flows in.
AGENT_APPLICATION: Final = Code(DICOM_SYSTEM, "110150", "Application")
AGENT_APPLICATION_LAUNCHER: Final = Code(DICOM_SYSTEM, "110151", "Application Launcher")
AGENT_DESTINATION_ROLE: Final = Code(DICOM_SYSTEM, "110152", "Destination Role ID")
AGENT_SOURCE_ROLE: Final = Code(DICOM_SYSTEM, "110153", "Source Role ID")
# HL7 provenance-participant-type (THO): the server agent of IHE BALP Delete.
AGENT_CUSTODIAN: Final = Code(PROVENANCE_PARTICIPANT_TYPE_SYSTEM, "custodian", "Custodian")
# HL7 extra-security-role-type (THO): the authoriser of IHE BALP AuthZconsent.
AGENT_AUTHORIZATION_SERVER: Final = Code(
    EXTRA_SECURITY_ROLE_TYPE_SYSTEM, "authserver", "authorization server"
)
# IHE BALP UserAgentTypes: the token server of the IUA ITI-71 AuditEvent in BALP.
AGENT_OAUTH_SERVER: Final = Code(
    BALP_USER_AGENT_TYPE_SYSTEM, "AuthzOauthService", "OAuth Authorization Server"
)
# HL7 v3 ParticipationType: the BALP user agent (IRCP for reads and queries, AUT for writes).
AGENT_INFORMATION_RECIPIENT: Final = Code(
    V3_PARTICIPATION_TYPE_SYSTEM, "IRCP", "information recipient"
)
AGENT_AUTHOR: Final = Code(V3_PARTICIPATION_TYPE_SYSTEM, "AUT", "author (originator)")
# HL7 v3 RoleClass: the BALP "userorg" agent, an organisation acting in the event.
AGENT_HEALTHCARE_PROVIDER: Final = Code(V3_ROLE_CLASS_SYSTEM, "PROV", "healthcare provider")
# Gateway-owned (audit-agent-role), in an organisation agent's `role`: whose organisation it
# is, so that the event's bytes alone say which is the calling system's (R4 has no
# agent.onBehalfOf) and which the end user's; both when they are the same one.
AGENT_ROLE_CLIENT_ORGANISATION: Final = Code(
    AUDIT_AGENT_ROLE_SYSTEM,
    "client-organisation",
    "Organisation the calling system is registered for",
)
AGENT_ROLE_END_USER_ORGANISATION: Final = Code(
    AUDIT_AGENT_ROLE_SYSTEM,
    "end-user-organisation",
    "Organisation of the end user, as the request's headers assert it",
)

# HL7 v2 table 0203 Identifier Type: BALP's type for a provider identifier in ihe-otherId.
IDENTIFIER_TYPE_PROVIDER_NUMBER: Final = Code(V2_IDENTIFIER_TYPE_SYSTEM, "PRN", "Provider number")

# --- AuditEvent.source.type -----------------------------------------------------------------

# HL7 security-source-type (THO), bound by R4 AuditEvent.source.type (audit-source-type).
SOURCE_APPLICATION_SERVER: Final = Code(SECURITY_SOURCE_TYPE_SYSTEM, "4", "Application Server")

# --- AuditEvent.entity.type and .role --------------------------------------------------------

# HL7 audit-entity-type (THO).
ENTITY_PERSON: Final = Code(AUDIT_ENTITY_TYPE_SYSTEM, "1", "Person")
ENTITY_SYSTEM_OBJECT: Final = Code(AUDIT_ENTITY_TYPE_SYSTEM, "2", "System Object")
# IHE BALP BasicAuditEntityType: the transaction entity holding X-Request-Id.
ENTITY_REQUEST_ID: Final = Code(
    BALP_ENTITY_TYPE_SYSTEM,
    "XrequestId",
    "transport specific unique identifier where http X-Request-Id is used",
)
# Gateway-owned (audit-entity-type): BALP defines no code for these.
ENTITY_CORRELATION_ID: Final = Code(
    GATEWAY_AUDIT_ENTITY_TYPE_SYSTEM, "x-correlation-id", "BaRS X-Correlation-ID"
)
ENTITY_DECISION_RULE: Final = Code(
    GATEWAY_AUDIT_ENTITY_TYPE_SYSTEM, "decision-rule", "Rule that decided access"
)
# An event that stands for several identical refusals (AuditEvent.period their span).
ENTITY_REPEATS: Final = Code(
    GATEWAY_AUDIT_ENTITY_TYPE_SYSTEM, "repeats", "Identical events recorded as one"
)

# HL7 object-role (THO).
ROLE_PATIENT: Final = Code(OBJECT_ROLE_SYSTEM, "1", "Patient")
ROLE_DOMAIN_RESOURCE: Final = Code(OBJECT_ROLE_SYSTEM, "4", "Domain Resource")
ROLE_QUERY: Final = Code(OBJECT_ROLE_SYSTEM, "24", "Query")

# --- AuditEvent.entity.detail.type ---------------------------------------------------------

# Gateway-owned (audit-entity-detail), written as their `uri`: what a data entity's detail
# holds. No standard code names the organisations data concerns; each value is an ODS code.
DETAIL_DATA_ORIGIN: Final = Code(
    AUDIT_ENTITY_DETAIL_SYSTEM, "data-origin", "ODS code of the organisation the data came from"
)
DETAIL_DATA_PARTY: Final = Code(
    AUDIT_ENTITY_DETAIL_SYSTEM, "data-party", "ODS code of an organisation party to the data"
)
# A repeats entity's detail: how many events the one event stands for, in decimal digits.
DETAIL_OCCURRENCES: Final = Code(
    AUDIT_ENTITY_DETAIL_SYSTEM, "occurrences", "Number of identical events this event records"
)

# --- Purposes of use ---------------------------------------------------------------------------

# Gateway-owned (purpose-of-use): the three a client is registered for and a data-sharing
# agreement names. Kept separate from HL7 v3 ActReason, whose codes do not map one to one.
PURPOSE_DIRECT_CARE: Final = Code(PURPOSE_OF_USE_SYSTEM, "direct-care", "Direct care")
PURPOSE_SAFEGUARDING: Final = Code(PURPOSE_OF_USE_SYSTEM, "safeguarding", "Safeguarding")
PURPOSE_SERVICE_IMPROVEMENT: Final = Code(
    PURPOSE_OF_USE_SYSTEM, "service-improvement", "Service improvement"
)
# By the code a token and the configuration carry.
PURPOSES_OF_USE: Final = MappingProxyType(
    {
        purpose.code: purpose
        for purpose in (PURPOSE_DIRECT_CARE, PURPOSE_SAFEGUARDING, PURPOSE_SERVICE_IMPROVEMENT)
    }
)


def purpose_of_use(code: str) -> Code:
    """The Code for a purpose of use as tokens and configuration name it (direct-care...).

    ValueError for any other: the gateway never mints a code on the fly.
    """
    try:
        return PURPOSES_OF_USE[code]
    except KeyError:
        raise ValueError("not a purpose of use the gateway defines") from None


# --- Consent and data sharing ----------------------------------------------------------------

# HL7 v3 ActReason (THO), the PurposeOfUse value set: the purposes a request names.
V3_ACT_REASON_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PURPOSE_TREAT: Final = Code(V3_ACT_REASON_SYSTEM, "TREAT", "treatment")
PURPOSE_ETREAT: Final = Code(V3_ACT_REASON_SYSTEM, "ETREAT", "Emergency Treatment")
PURPOSE_BTG: Final = Code(V3_ACT_REASON_SYSTEM, "BTG", "break the glass")

# HL7 restful-security-service (THO): how the server authenticates (CapabilityStatement).
SECURITY_SERVICE_SMART: Final = Code(
    "http://terminology.hl7.org/CodeSystem/restful-security-service",
    "SMART-on-FHIR",
    "SMART-on-FHIR",
)

# HL7 consentscope (THO): the only Consent scope the decision point reads.
CONSENT_SCOPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_SCOPE_PRIVACY: Final = Code(CONSENT_SCOPE_SYSTEM, "patient-privacy", "Privacy Consent")

# FHIR R4 resource-types: Consent.provision.class names resource types in it.
RESOURCE_TYPES_SYSTEM: Final = "http://hl7.org/fhir/resource-types"

# Gateway-owned (data-category): the kinds of data a data-sharing agreement covers. A
# resource is tagged with one (meta.tag, or a category coding) where its type alone does
# not say, and a Consent provision.class may name one.
DATA_CATEGORY_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "data-category"
DATA_CATEGORIES: Final = MappingProxyType(
    {
        code.code: code
        for code in (
            Code(DATA_CATEGORY_SYSTEM, "referral", "Referral or handover"),
            Code(DATA_CATEGORY_SYSTEM, "escalation", "Escalation"),
            Code(DATA_CATEGORY_SYSTEM, "risk-flag", "Risk flag"),
            Code(DATA_CATEGORY_SYSTEM, "safeguarding", "Safeguarding concern"),
            Code(DATA_CATEGORY_SYSTEM, "audit", "Access log"),
        )
    }
)

# HL7 v3 ObservationValue (THO), a security label: served with some content withheld.
SECURITY_REDACTED: Final = Code(
    "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "REDACTED", "redacted"
)

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
