"""Codes of the safeguarding action tracker: what an action is, what a partner contact
was, and what a completed action's output is.

What was looked for first, and not found (December 2026):

- HL7 FHIR R4 `http://hl7.org/fhir/CodeSystem/task-code` has seven codes (approve,
  fulfill, abort, replace, change, suspend, resume), each an operation on a *focal*
  resource. A safeguarding action has no focal request: it is the request. None fits.
- UK Core (fhir.hl7.org.uk) publishes no Task profile and no Task code system; the NHS
  England `NHSDigital-Task` profile is for the Electronic Prescription Service (it marks
  `restriction.period.end` must-support, the element used here for the deadline). The
  NHS Booking and Referral Standard (BaRS) codes a referral's message events and
  reasons, not the actions agreed after it.
- SNOMED CT has safeguarding findings and procedures, but no concept seen in a
  published NHS source names "an action agreed between agencies about a person", and
  the gateway never invents or guesses a SNOMED code.

So, as the design asks, each is a CodeSystem the gateway owns, under its own URL,
listed here (core.codes.catalogue lists this module with the others).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from core.codes.common import GATEWAY_CODE_SYSTEM_BASE, Code
from core.fhir import parties


def _code_system(system: str, displays: dict[str, str]) -> MappingProxyType[str, Code]:
    return MappingProxyType({code: Code(system, code, text) for code, text in displays.items()})


# Task.code of a safeguarding action: the kind of action asked of the owner. The system
# is defined where the party rules read it (a safeguarding action's sender is its
# requester, not its owner: core.fhir.parties).
SAFEGUARDING_ACTION_SYSTEM: Final = parties.SAFEGUARDING_ACTION_SYSTEM
ACTION_KINDS: Final = _code_system(
    SAFEGUARDING_ACTION_SYSTEM,
    {
        "strategy-discussion": "Convene or join a safeguarding strategy discussion",
        "local-authority-referral": "Refer to the local authority (safeguarding)",
        "risk-assessment": "Complete or update a safeguarding risk assessment",
        "safety-plan": "Agree or review a safety plan with the person",
        "information-sharing": "Share information with a named partner agency",
        "welfare-check": "Check on the person's welfare",
        "other": "Other safeguarding action",
    },
)
# Communication.category of a partner contact recorded against an action.
CONTACT_KIND_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "safeguarding-contact"
CONTACT_KINDS: Final = _code_system(
    CONTACT_KIND_SYSTEM,
    {
        "call": "Telephone call",
        "strategy-meeting": "Strategy meeting",
        "local-authority-referral": "Referral to the local authority",
        "email": "Secure email",
        "visit": "Visit",
    },
)
# The parts of a contact Communication's payload (core.safeguarding.contacts).
CONTACT_PART_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "safeguarding-contact-part"
CONTACT_PARTS: Final = _code_system(
    CONTACT_PART_SYSTEM,
    {"contacted": "Who was contacted", "agreed": "What was agreed", "by": "Who made the contact"},
)
# Task.output.type of a completed action: what was done, and the evidence for it.
ACTION_OUTPUT_SYSTEM: Final = GATEWAY_CODE_SYSTEM_BASE + "safeguarding-action-output"
ACTION_OUTPUTS: Final = _code_system(
    ACTION_OUTPUT_SYSTEM,
    {"outcome": "Outcome of the action", "evidence": "Evidence the action was done"},
)
OUTCOME: Final = ACTION_OUTPUTS["outcome"]
EVIDENCE: Final = ACTION_OUTPUTS["evidence"]
