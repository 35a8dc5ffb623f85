"""A person's consent statements, and what they say about one sharing.

A statement is a FHIR Consent (scope patient-privacy) already read into values (see
core.sharing.consents). Its provisions follow FHIR R4 and IHE Privacy Consent on FHIR (PCF):
the root provision is the base rule (`deny`: do not share; `permit`: share); nested
provisions are exceptions and, when they give no type, reverse the one they sit in.

- A provision applies when every criterion it states matches: actor (the receiving
  organisation, by ODS code), purpose (v3 PurposeOfUse codes, hierarchy included),
  period (now), dataPeriod (when the data was made), class (resource type or data
  category) and securityLabel. A criterion it does not state matches anything.
- Where a criterion cannot be judged (an actor that is not an organisation, data with no
  date), a deny matches and a permit does not: restrictions are applied when in doubt.
- The deepest applying provision answers; among applying siblings deny overrides permit.
- A statement is recorded by a data controller about the sharing of its own records: it
  governs only data whose origin is its custodian (Consent.organization). Another
  organisation's statement never changes how the origin's data is shared, and one whose
  custodian cannot be read governs nothing (the gateway refuses to store it).
- Only active statements count (draft, proposed, rejected, inactive and entered-in-error
  do not), and none dated (Consent.dateTime) in the future beyond FUTURE_SKEW. Where
  several answer, the most recent (Consent.dateTime) wins. An active statement that
  cannot be read at all makes the answer "unreadable": fail closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from consent.model import SharingRequest

ProvisionType = Literal["permit", "deny"]

# How far ahead of the gateway's clock a recording system's clock may be: a statement
# dated later than now plus this is refused when written and never counts.
FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime | None = None
    end: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and (
            self.end is None or moment <= self.end
        )


@dataclass(frozen=True, slots=True)
class Provision:
    # None: the opposite of the enclosing provision's type (an exception to it).
    type: ProvisionType | None
    # Where it sits in the Consent, for reasons: provision, provision.provision[1]...
    path: str = "provision"
    actors: frozenset[str] = frozenset()  # ODS codes
    # An actor is named that is not an organisation by ODS code.
    unresolved_actor: bool = False
    purposes: frozenset[str] = frozenset()
    # A purpose in a code system the gateway does not read.
    unresolved_purpose: bool = False
    period: Period | None = None
    data_period: Period | None = None
    classes: frozenset[str] = frozenset()  # resource types and data categories
    # A class in a code system the gateway does not read (LOINC document types...).
    unresolved_class: bool = False
    security_labels: frozenset[tuple[str, str]] = frozenset()
    provisions: tuple[Provision, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsentStatement:
    id: str  # the Consent resource id
    status: str
    recorded: datetime | None  # Consent.dateTime
    last_updated: datetime  # meta.lastUpdated: orders statements recorded at one moment
    provision: Provision | None
    # ODS code of the organisation that recorded it (Consent.organization), whose
    # records alone it governs; None when that cannot be read: it governs nothing.
    custodian: str | None
    # Could not be read into a statement: fails closed while active.
    unreadable: bool = False

    @property
    def reference(self) -> str:
        return f"Consent/{self.id}"


@dataclass(frozen=True, slots=True)
class ConsentAnswer:
    type: ProvisionType | Literal["unreadable"]
    statement: ConsentStatement
    provision_path: str | None

    @property
    def source(self) -> str:
        path = f" {self.provision_path}" if self.provision_path else ""
        return f"{self.statement.reference}{path}"


def consent_answer(
    statements: Iterable[ConsentStatement], request: SharingRequest, now: datetime
) -> ConsentAnswer | None:
    """What the person's statements about the origin's records say about this sharing;
    None when none applies."""
    newest_first = sorted(
        (s for s in statements if _counts(s, request, now)),
        key=lambda s: (s.recorded or s.last_updated, s.last_updated, s.id),
        reverse=True,
    )
    for statement in newest_first:
        if statement.unreadable or statement.provision is None:
            return ConsentAnswer("unreadable", statement, None)
    for statement in newest_first:
        assert statement.provision is not None
        found = _answer(statement.provision, request, now, enclosing=None)
        if found is not None:
            answer, provision = found
            return ConsentAnswer(answer, statement, provision.path)
    return None


def _counts(statement: ConsentStatement, request: SharingRequest, now: datetime) -> bool:
    """Active, recorded by the organisation the data comes from, and not dated ahead."""
    return (
        statement.status == "active"
        and statement.custodian is not None
        and statement.custodian == request.origin
        and (statement.recorded is None or statement.recorded <= now + FUTURE_SKEW)
    )


def _answer(
    provision: Provision,
    request: SharingRequest,
    now: datetime,
    enclosing: ProvisionType | None,
) -> tuple[ProvisionType, Provision] | None:
    own = provision.type or _opposite(enclosing)
    if not _applies(provision, own, request, now):
        return None
    exceptions = [
        found
        for child in provision.provisions
        if (found := _answer(child, request, now, enclosing=own)) is not None
    ]
    for found in exceptions:
        if found[0] == "deny":
            return found
    return exceptions[0] if exceptions else (own, provision)


def _named(matched: bool, states_any: bool, states_unreadable: bool, in_doubt: bool) -> bool:
    """Whether a list criterion (actor, purpose, class) lets the provision apply: not
    stated at all, or it names the request, or it names something the gateway cannot
    read and the provision is a restriction (applied when in doubt)."""
    if not states_any and not states_unreadable:
        return True
    return matched or (states_unreadable and in_doubt)


def _opposite(enclosing: ProvisionType | None) -> ProvisionType:
    # A root provision with no type is read as deny (restrict when in doubt).
    return "permit" if enclosing == "deny" else "deny"


def _applies(
    provision: Provision, own: ProvisionType, request: SharingRequest, now: datetime
) -> bool:
    in_doubt = own == "deny"  # how a criterion that cannot be judged counts
    if provision.period is not None and not provision.period.contains(now):
        return False
    if not _named(
        request.recipient in provision.actors,
        bool(provision.actors),
        provision.unresolved_actor,
        in_doubt,
    ):
        return False
    if not _named(
        any(request.purpose.falls_under(p) for p in provision.purposes),
        bool(provision.purposes),
        provision.unresolved_purpose,
        in_doubt,
    ):
        return False
    if not _named(
        request.resource_type in provision.classes or request.category in provision.classes,
        bool(provision.classes),
        provision.unresolved_class,
        in_doubt,
    ):
        return False
    if provision.security_labels and not (provision.security_labels & request.security_labels):
        return False
    if provision.data_period is not None:
        if request.data_date is None:
            return in_doubt
        return provision.data_period.contains(request.data_date)
    return True
