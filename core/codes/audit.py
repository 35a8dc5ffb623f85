"""Codes of the access log's AuditEvents: type, subtype, agents, source and entities."""

from __future__ import annotations

from typing import Final

from core.codes.common import (
    AUDIT_AGENT_ROLE_SYSTEM,
    AUDIT_ENTITY_DETAIL_SYSTEM,
    AUDIT_ENTITY_TYPE_SYSTEM,
    AUDIT_EVENT_TYPE_SYSTEM,
    AUDIT_SUBTYPE_SYSTEM,
    BALP_ENTITY_TYPE_SYSTEM,
    BALP_USER_AGENT_TYPE_SYSTEM,
    DICOM_SYSTEM,
    EXTRA_SECURITY_ROLE_TYPE_SYSTEM,
    GATEWAY_AUDIT_ENTITY_TYPE_SYSTEM,
    OBJECT_ROLE_SYSTEM,
    PROVENANCE_PARTICIPANT_TYPE_SYSTEM,
    RESTFUL_INTERACTION_SYSTEM,
    SECURITY_SOURCE_TYPE_SYSTEM,
    V2_IDENTIFIER_TYPE_SYSTEM,
    V3_PARTICIPATION_TYPE_SYSTEM,
    V3_ROLE_CLASS_SYSTEM,
    Code,
)

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
    STORE_BACKUP: Final = _gateway_subtype("store-backup", "Store backup")
    CHECKPOINT: Final = _gateway_subtype("checkpoint", "Audit log checkpoint")
    PATIENT_ACCESS_REPORT: Final = _gateway_subtype(
        "patient-access-report", "Patient access report"
    )
    OUTBOX_COMMAND: Final = _gateway_subtype("outbox-command", "Outbox operator command")
    # The gateway acting on an escalation step nobody answered in time (a step-up, or a
    # notice that the ladder is exhausted).
    ESCALATION_LADDER: Final = _gateway_subtype("escalation-ladder", "Escalation ladder action")
    # The gateway acting on safeguarding work not done by its deadline (an action not
    # completed, a restriction not reviewed): escalated along the owner's ladder.
    SAFEGUARDING_OVERDUE: Final = _gateway_subtype(
        "safeguarding-overdue", "Overdue safeguarding work escalated"
    )
    # A refused request in an HTTP method FHIR gives no interaction (OPTIONS, TRACE...).
    UNSUPPORTED_METHOD: Final = _gateway_subtype(
        "unsupported-method", "Request in an HTTP method the gateway does not take"
    )
    # The gateway ending a restriction on a person whose time limit passed with no
    # review's decision, and telling both sides.
    RESTRICTION_EXPIRY: Final = _gateway_subtype(
        "restriction-expiry", "Restriction ended at its time limit"
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
