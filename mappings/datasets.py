"""The handover minimum dataset and the escalation summary, as the spec names them.

../shared/spec/handover-minimum-dataset.md is a contract for integrators: field names
are exactly the spec's (extend, never rename). The models validate shape and values:
identity (NHS number by Modulus 11, its UK Core verification status, ODS codes),
enumerations (the error lists the allowed values), dates and instants (an instant must
carry its offset and is normalised to UTC). Which clinical fields must be present is
not decided here but by the pathway's referral checklist, so they are optional; only
what identifies the handover, its person and its two organisations is required.

Unknown fields are refused, so a misspelt field is an error rather than silently lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from mappings.identifier_types import NhsNumber, OdsCode

Pathway = Literal["referral", "step-up", "crisis", "discharge-follow-up", "safeguarding"]
RiskType = Literal[
    "self-harm",
    "suicide",
    "harm-to-others",
    "harm-from-others",
    "exploitation",
    "self-neglect",
    "safeguarding",
    "other",
]
RiskLevel = Literal["low", "medium", "high"]
RequestType = Literal[
    "assessment",
    "step-up",
    "crisis-response",
    "admission",
    "advice",
    "safeguarding-strategy",
    "follow-up",
]
# The MHSDS clinical response priorities, most urgent first.
Priority = Literal["emergency", "very-urgent", "urgent", "routine"]
SharingBasis = Literal["direct-care-implied", "explicit-consent", "safeguarding"]
EscalationLevel = Literal["front-line", "manager", "senior"]
# UK Core NHS number verification status (CodeSystem UKCore-NHSNumberVerificationStatus).
NhsNumberStatus = Literal["01", "02", "03", "04", "05", "06", "07", "08"]


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)


def _iso(pattern: re.Pattern[str], shape: str) -> Callable[[Any], Any]:
    """Only ISO 8601 text: pydantic would also read a number as seconds since 1970."""

    def check(value: Any) -> Any:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ValueError(f"must be {shape}")
        return value

    return check


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:30+01:00 is a moment before the first year Python (and FHIR) holds.
        raise ValueError("must be an instant between the years 1 and 9999 in UTC") from None


# An instant with its offset (naive times are refused), held in UTC.
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_iso(_ISO_INSTANT, "an ISO 8601 date and time with its offset")),
    AfterValidator(_utc),
]
Date = Annotated[date, BeforeValidator(_iso(_ISO_DATE, "an ISO 8601 date, YYYY-MM-DD"))]
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# Whitespace FHIR strings may not hold (FHIR's string pattern allows only space, tab, CR
# and LF): a non-breaking space pasted from a document becomes a plain space.
_OTHER_WHITESPACE = re.compile(r"[^\S \t\r\n]")


def _plain_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return _OTHER_WHITESPACE.sub(" ", value).strip()


# Free text: present means something was said, so blank text is refused. Surrounding
# whitespace carries nothing and is removed. Length limits are configured elsewhere.
Text = Annotated[str, BeforeValidator(_plain_text), StringConstraints(min_length=1)]
# A FHIR id, as the gateway gives its resources.
FhirId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-.]{1,64}$")]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    @field_validator("*", mode="after")
    @classmethod
    def _empty_part_is_absent(cls, value: Any) -> Any:
        # `"legal": {}` says nothing, exactly as leaving it out does: one meaning, one form.
        if isinstance(value, _Part) and not value.model_dump(
            exclude_none=True, exclude_defaults=True
        ):
            return None
        return value


class PatientName(_Part):
    given: Text | None = None
    family: Text | None = None


class Patient(_Part):
    nhs_number: NhsNumber
    nhs_number_status: NhsNumberStatus | None = None
    name: PatientName | None = None
    birth_date: Date | None = None


class Sender(_Part):
    ods: OdsCode
    team: Text | None = None
    practitioner: Text | None = None
    role: Text | None = None
    contact: Text | None = None


class Receiver(_Part):
    ods: OdsCode
    service: Text | None = None


class KeyRisk(_Part):
    type: RiskType
    level: RiskLevel | None = None
    description: Text | None = None
    since: Date | None = None


class ActionTaken(_Part):
    action: Text
    at: Instant | None = None
    by: Text | None = None


class Request(_Part):
    summary: Text | None = None
    type: RequestType | None = None


class TimeSensitivity(_Part):
    priority: Priority | None = None
    respond_by: Instant | None = None


class Sharing(_Part):
    basis: SharingBasis | None = None
    consent_obtained: bool | None = None
    reason_if_not: Text | None = None


class Legal(_Part):
    mental_health_act_status: Text | None = None
    capacity_concerns: bool | None = None


class _Dataset(_Part):
    """What a handover and an escalation summary both carry."""

    # With the sender's ODS code, identifies the handover for deduplication. Plain text as
    # free text is (it becomes a FHIR string): no control characters, no blank id.
    external_id: Annotated[
        str, BeforeValidator(_plain_text), StringConstraints(min_length=1, max_length=64)
    ]
    pathway: Pathway
    locality: Text | None = None
    patient: Patient
    sender: Sender
    receiver: Receiver
    current_presentation: Text | None = None
    key_risks: tuple[KeyRisk, ...] = ()
    what_has_changed: Text | None = None
    actions_taken: tuple[ActionTaken, ...] = ()
    current_plan: Text | None = None
    request: Request | None = None
    time_sensitivity: TimeSensitivity | None = None
    sharing: Sharing | None = None
    legal: Legal | None = None


class Handover(_Dataset):
    dataset: Literal["handover"]


class EscalatedBy(_Part):
    name: Text | None = None
    role: Text | None = None
    team: Text | None = None


class EscalatedTo(_Part):
    ods: OdsCode | None = None
    service: Text | None = None
    role: Text | None = None


class EscalationResponse(_Part):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    received_at: Instant | None = None
    # "from" is a Python keyword: the field is named from_ and read and written as "from".
    from_: Text | None = Field(default=None, alias="from")
    summary: Text | None = None


class Escalation(_Part):
    level: EscalationLevel
    escalated_at: Instant | None = None
    escalated_by: EscalatedBy | None = None
    escalated_to: EscalatedTo | None = None
    information_shared: Text | None = None
    response: EscalationResponse | None = None
    next_action: Text | None = None
    early_warning_indicators: tuple[Text, ...] = ()
    # The gateway id of the ServiceRequest this escalation escalates.
    related_referral: FhirId | None = None


class EscalationSummary(_Dataset):
    dataset: Literal["escalation"]
    escalation: Escalation


Dataset = Annotated[Handover | EscalationSummary, Field(discriminator="dataset")]
