"""The question the decision point answers, and its answer.

A sharing: one piece of data (of a data category, about a patient, made by its
originating organisation) passing to a receiving organisation, for a purpose. Reads,
writes and deliveries are all sharings: a read shares the data with the reader, a write
shares it with every other organisation the resource names, a delivery with its
receiver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from consent.purposes import Purpose

# The kinds of data a data-sharing agreement covers.
DataCategory = Literal["referral", "escalation", "risk-flag", "safeguarding", "audit"]
DATA_CATEGORIES: tuple[DataCategory, ...] = (
    "referral",
    "escalation",
    "risk-flag",
    "safeguarding",
    "audit",
)

Action = Literal["read", "write", "deliver"]

# Client roles that may override recorded dissent to protect someone (with a
# justification, and only for a purpose their registration allows). Information
# governance and operations roles never share clinical data, so never override.
OVERRIDING_ROLES = frozenset({"provider-epr", "trust-crisis-system"})
# Client roles that may record (create or change) a Consent, for their own organisation
# only, and with the token's Consent scope: the systems that record a person's wishes in
# care. Information governance and operations roles never do.
CONSENT_RECORDING_ROLES = frozenset({"provider-epr", "trust-crisis-system"})


class Rule(StrEnum):
    """Every rule the decision point applies, as reasons and the access log name them."""

    SAME_ORGANISATION = "sharing:same-organisation"
    # Directory entries and consent statements themselves: not shared under agreements.
    EXEMPT = "sharing:exempt"
    ORIGIN_UNKNOWN = "default:origin-unknown"
    # Data about a person whose identity was never established (fail closed).
    PATIENT_UNKNOWN = "default:patient-unknown"
    AGREEMENT_PERMITS = "agreement:permits"
    NO_AGREEMENT = "agreement:none"
    AGREEMENT_NOT_IN_FORCE = "agreement:not-in-force"
    AGREEMENT_EXPIRED = "agreement:expired"
    AGREEMENT_NOT_YET_VALID = "agreement:not-yet-valid"
    AGREEMENT_SUSPENDED = "agreement:suspended"
    AGREEMENT_PURPOSE_NOT_COVERED = "agreement:purpose-not-covered"
    AGREEMENT_CATEGORY_NOT_COVERED = "agreement:category-not-covered"
    IMPLIED_CONSENT = "consent:implied-for-direct-care"
    NO_STATEMENT_APPLIES = "consent:no-statement-applies"
    NO_PATIENT = "consent:no-patient-named"
    CONSENT_PERMITS = "consent:permit"
    DISSENT = "consent:dissent"
    CONSENT_UNREADABLE = "consent:unreadable"
    OVERRIDDEN = "override:dissent-overridden"
    OVERRIDE_NEEDS_JUSTIFICATION = "override:justification-missing"
    OVERRIDE_ROLE_NOT_ALLOWED = "override:role-not-allowed"


class Obligation(StrEnum):
    """What the gateway must do when it acts on a permit."""

    # Audit the sharing as an emergency override (a security alert, listed for review).
    RECORD_BREAK_GLASS = "record-break-glass"
    # Serve the data without its free text (narrative, notes, payload strings).
    WITHHOLD_FREE_TEXT = "withhold-free-text"


@dataclass(frozen=True, slots=True)
class SharingRequest:
    actor: str  # ODS code of the organisation whose client is acting
    actor_role: str | None  # the client's registered role
    purpose: Purpose
    action: Action
    category: DataCategory
    origin: str | None  # ODS code of the organisation the data comes from
    recipient: str  # ODS code of the organisation the data goes to
    # The person's identifier (an NHS number, or a local identifier); None when the data
    # is about nobody, or about a person who could not be established.
    patient: str | None
    resource_type: str
    # (system, code) pairs from meta.security: a consent provision can be about them.
    security_labels: frozenset[tuple[str, str]] = frozenset()
    # When the data was made (clinically), for provisions with a dataPeriod.
    data_date: datetime | None = None
    # Why an override is needed, as the client stated it (break-glass, safeguarding).
    justification: str | None = None
    # Whether the data is of a kind that is always about a person (it has a patient
    # element): then no patient means an unknown person, never "no patient".
    about_a_person: bool = True


@dataclass(frozen=True, slots=True)
class Reason:
    rule: Rule
    # Which agreement (id and version) or consent provision (Consent/id and path).
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    permitted: bool
    # The deciding reason first, then those that led to it.
    reasons: tuple[Reason, ...]
    obligations: frozenset[Obligation] = field(default_factory=frozenset)
    # The agreement the sharing rests on (id and version), when one does.
    agreement: str | None = None

    @property
    def rule(self) -> Rule:
        return self.reasons[0].rule

    @property
    def source(self) -> str | None:
        return self.reasons[0].source
