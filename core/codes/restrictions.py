"""Codes and extensions of restrictions (restrictive practice), and their FHIR mapping.

No standard code system names kinds of restriction on a person (SNOMED CT has findings
such as seclusion, not the restrictions the partnership standard asks to be recorded:
limits on contact, on leaving, on possessions), nor a restriction review's decision, so
each is a CodeSystem the gateway owns. A restriction is a Flag (docs/restrictions.md says
why) told apart from a risk Flag by the gateway's flag category `restriction`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from core.codes.common import GATEWAY_CODE_SYSTEM_BASE, Code
from core.codes.handover import GATEWAY_EXTENSION_BASE


def _code_system(name: str, displays: dict[str, str]) -> MappingProxyType[str, Code]:
    system = GATEWAY_CODE_SYSTEM_BASE + name
    return MappingProxyType({code: Code(system, code, text) for code, text in displays.items()})


# What is restricted: the code of the restriction Flag (Flag.code), its detail the text.
RESTRICTION_KINDS: Final = _code_system(
    "restriction-kind",
    {
        "contact": "Limits on contact with named people or visitors",
        "leaving": "Limits on leaving (leave, going out unescorted)",
        "possessions": "Possessions removed or withheld",
        "devices": "Limits on phone, internet or other devices",
        "areas": "Limits on access to areas or rooms",
        "money": "Limits on access to money",
        "other": "Another restriction (described in its detail)",
    },
)
# What a review decided.
REVIEW_DECISIONS: Final = _code_system(
    "restriction-review-decision",
    {
        "continue": "Continue, with a new review date",
        "step-down": "Step down to something less restrictive",
        "end": "End the restriction",
    },
)
# Why a restriction ended: a review decided it, or its time limit passed with no decision.
END_REASONS: Final = _code_system(
    "restriction-end-reason",
    {
        "review": "Ended by a review's decision",
        "time-limit": "Time limit reached with no decision: ended by the gateway",
    },
)
# Flag.category of a restriction, telling it from a risk flag (HL7 flag-category has no
# code for a restriction on the person).
FLAG_CATEGORY_RESTRICTION: Final = Code(
    GATEWAY_CODE_SYSTEM_BASE + "flag-category", "restriction", "Restriction on the person"
)
# Communication.category of the notice the gateway sends when a restriction's time limit
# ends it.
RESTRICTION_NOTICE_CATEGORY: Final = Code(
    GATEWAY_CODE_SYSTEM_BASE + "restriction-notice",
    "time-limit-reached",
    "Restriction ended at its time limit",
)

# Extensions on the restriction Flag, where R4 Flag has no element for a field.
EXTENSION_RATIONALE: Final = GATEWAY_EXTENSION_BASE + "restriction-rationale"
# Repeating, complex: `alternative` and `why-not-enough` (valueString each).
EXTENSION_ALTERNATIVE: Final = GATEWAY_EXTENSION_BASE + "restriction-alternative-considered"
# Complex: `name` and `role` (valueString each) of the person who authorised it.
EXTENSION_AUTHORISED_BY: Final = GATEWAY_EXTENSION_BASE + "restriction-authorised-by"
EXTENSION_TIME_LIMIT: Final = GATEWAY_EXTENSION_BASE + "restriction-time-limit"
EXTENSION_REVIEW_DUE: Final = GATEWAY_EXTENSION_BASE + "restriction-review-due"
EXTENSION_STEP_DOWN_PLAN: Final = GATEWAY_EXTENSION_BASE + "restriction-step-down-plan"
# Repeating, complex, oldest first: each review (reviewer, when, decision, why, what next).
EXTENSION_REVIEW: Final = GATEWAY_EXTENSION_BASE + "restriction-review"
EXTENSION_END_REASON: Final = GATEWAY_EXTENSION_BASE + "restriction-end-reason"
