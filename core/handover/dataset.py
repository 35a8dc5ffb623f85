"""The handover minimum dataset and the escalation summary, as the spec names them.

../shared/spec/handover-minimum-dataset.md is a contract for integrators: field names
are exactly the spec's (extend, never rename). The models validate shape and values:
identity (NHS number by Modulus 11, its UK Core verification status, or, for a person
with no NHS number yet, the sender's local identifier; ODS codes),
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
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from core.fhir.identifier_types import NhsNumber, OdsCode
from core.fhir.identifiers import is_local_system, is_valid_local_value

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
# The statuses that say why a person has no NHS number (trace required, attempted, to be
# resolved, in progress, not required, postponed): the ones a local identifier goes with.
NO_NHS_NUMBER_STATUSES = ("03", "04", "05", "06", "07", "08")
# The error type of a person named neither way: a required field, with its alternative.
IDENTITY_MISSING = "identity_missing"


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


class PatientAddress(_Part):
    """Where to find the person, for a home visit, as a UK address is written: its lines
    (house, street, locality), the town or city, and the postcode. Free text each, as the
    sender's system holds it: a postcode is not checked, since a crisis is never refused
    for a mistyped one (and a person of no fixed abode has none, or ZZ99 3VZ)."""

    lines: tuple[Text, ...] = ()
    city: Text | None = None
    postcode: Text | None = None


def _local_system(value: str) -> str:
    if not is_local_system(value):
        raise ValueError(
            "must be the absolute URI of a local patient identifier system (http, https, "
            "urn:oid or urn:uuid; at most 190 characters), not a UK Core system"
        )
    return value


def _local_value(value: str) -> str:
    if not is_valid_local_value(value):
        raise ValueError("must be 1 to 64 letters, digits and - . _ : /")
    return value


class LocalIdentifier(_Part):
    """The sender's own identifier for a person with no NHS number yet. Its system must
    be registered for the sender in the configuration (checked where that is known)."""

    system: Annotated[str, AfterValidator(_local_system)]
    value: Annotated[str, AfterValidator(_local_value)]


class Patient(_Part):
    """The person, by NHS number or, with none yet, by the sender's local identifier (a
    crisis does not wait for a trace): exactly one of the two, and with a local
    identifier the verification status says why there is no number (03 to 08)."""

    # Declared before the NHS number, whose check needs it (fields validate in order);
    # a model's dump follows this order too, which no reader of JSON depends on.
    local_identifier: LocalIdentifier | None = None
    nhs_number: NhsNumber | None = Field(default=None, validate_default=True)
    nhs_number_status: NhsNumberStatus | None = Field(default=None, validate_default=True)
    name: PatientName | None = None
    birth_date: Date | None = None
    address: PatientAddress | None = None

    @field_validator("nhs_number", mode="after")
    @classmethod
    def _number_or_local_identifier(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "local_identifier" not in info.data:
            return value  # the local identifier is invalid: that is the error to report
        local = info.data["local_identifier"]
        if value is None and local is None:
            raise PydanticCustomError(
                IDENTITY_MISSING,
                "is required, unless patient.local_identifier names a person with no NHS "
                "number yet",
            )
        if value is not None and local is not None:
            raise ValueError(
                "cannot be given with patient.local_identifier, which is for a person with no "
                "NHS number yet"
            )
        return value

    @field_validator("nhs_number_status", mode="after")
    @classmethod
    def _why_no_number(cls, value: str | None, info: ValidationInfo) -> str | None:
        without_number = info.data.get("local_identifier") is not None and (
            "nhs_number" in info.data and info.data["nhs_number"] is None
        )
        if without_number and value not in NO_NHS_NUMBER_STATUSES:
            raise ValueError(
                "must say why the person has no NHS number when patient.local_identifier is "
                f"given: one of {', '.join(NO_NHS_NUMBER_STATUSES)}"
            )
        return value


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
