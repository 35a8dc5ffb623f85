"""What a request is for: the purpose of use it names, and what that purpose implies.

Requests name HL7 v3 PurposeOfUse codes (THO CodeSystem v3-ActReason): TREAT (treatment),
ETREAT (emergency treatment) and BTG (break the glass). Safeguarding and service
improvement have no v3 code that fits (v3 has no safeguarding purpose; HQUALIMP is
narrower than the service improvement agreements name), so they are codes of the
gateway's purpose-of-use CodeSystem, `safeguarding` and `service-improvement`.

Every purpose of use falls under exactly one of the three purposes a data-sharing
agreement names: TREAT, ETREAT and BTG are all direct care.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

# The purposes a data-sharing agreement is made for.
AgreementPurpose = Literal["direct-care", "safeguarding", "service-improvement"]
AGREEMENT_PURPOSES: tuple[AgreementPurpose, ...] = (
    "direct-care",
    "safeguarding",
    "service-improvement",
)


class Purpose(StrEnum):
    """A request's purpose of use, by the code it is named with."""

    TREAT = "TREAT"
    ETREAT = "ETREAT"
    BTG = "BTG"
    SAFEGUARDING = "safeguarding"
    SERVICE_IMPROVEMENT = "service-improvement"

    @property
    def agreement_purpose(self) -> AgreementPurpose:
        return _AGREEMENT_PURPOSE[self]

    @property
    def protects_someone(self) -> bool:
        """Sharing to protect someone: the purposes that may override recorded dissent
        (with a justification, for a client whose role allows it)."""
        return self in (Purpose.ETREAT, Purpose.BTG, Purpose.SAFEGUARDING)

    def falls_under(self, named: str) -> bool:
        """Whether a consent provision naming purpose `named` covers this purpose.

        v3 PurposeOfUse is a hierarchy: BTG is a kind of ETREAT, which is a kind of TREAT.
        A provision about treatment therefore covers emergency treatment and break-glass;
        the gateway's own `direct-care` code stands for TREAT.
        """
        return named in _COVERED_BY[self]


def purpose_for_agreement(purpose: AgreementPurpose) -> Purpose:
    """The purpose of use a client registered for an agreement purpose acts with."""
    return {
        "direct-care": Purpose.TREAT,
        "safeguarding": Purpose.SAFEGUARDING,
        "service-improvement": Purpose.SERVICE_IMPROVEMENT,
    }[purpose]


_AGREEMENT_PURPOSE: dict[Purpose, AgreementPurpose] = {
    Purpose.TREAT: "direct-care",
    Purpose.ETREAT: "direct-care",
    Purpose.BTG: "direct-care",
    Purpose.SAFEGUARDING: "safeguarding",
    Purpose.SERVICE_IMPROVEMENT: "service-improvement",
}

_COVERED_BY: dict[Purpose, frozenset[str]] = {
    Purpose.TREAT: frozenset({"TREAT", "direct-care"}),
    Purpose.ETREAT: frozenset({"TREAT", "direct-care", "ETREAT"}),
    Purpose.BTG: frozenset({"TREAT", "direct-care", "ETREAT", "BTG"}),
    Purpose.SAFEGUARDING: frozenset({"safeguarding"}),
    Purpose.SERVICE_IMPROVEMENT: frozenset({"service-improvement"}),
}
