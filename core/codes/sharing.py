"""Codes of purposes of use, consent and data sharing."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from core.codes.common import GATEWAY_CODE_SYSTEM_BASE, PURPOSE_OF_USE_SYSTEM, Code

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
