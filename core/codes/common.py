"""The code catalogue's common ground: the Code value, the gateway's namespaces, and the
standard code systems the domain modules beside this one draw their codes from.

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
from typing import Final

from core.fhir import identifiers


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
