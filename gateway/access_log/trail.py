"""What one request touched, collected as it runs, and turned into AuditEvents.

The services note each resource they return or write (`saw`); the edge, which knows the
interaction and who is calling, turns the trail into one AuditEvent per patient (and one
for data that belongs to no patient) when the request succeeds or fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from consent.model import Decision, Obligation, Rule
from core.access_log.event import (
    AuditedClient,
    AuditedData,
    AuditedDecision,
    AuditedEndUser,
    AuditFacts,
    AuditOutcome,
    EventKind,
)
from core.codes.audit import Subtype
from core.codes.common import Code
from gateway.fhir.store import StoredResource
from gateway.platform.clock import Clock, IdSource, new_id, utc_now

Action = Literal["C", "R", "U", "D", "E"]

# The rules the gateway's own access checks apply, as decision entities name them.
NOT_PARTY = "access:organisation-not-party"
# A party that is not the record's origin tried to write a new version of it.
NOT_AUTHOR = "access:organisation-not-author"
# A record about a person named them in a way the gateway cannot be sure of (422).
PATIENT_NOT_ESTABLISHED = "identity:patient-not-established"
NO_VALID_TOKEN = "access:no-valid-token"  # noqa: S105 (a rule name, not a secret)
SCOPE_NOT_GRANTED = "access:scope-not-granted"
FORBIDDEN = "access:forbidden"
RATE_LIMITED = "access:rate-limited"
# A method the URL does not take (405); for an Organization, because the directory is
# configuration and no client writes it.
METHOD_NOT_ALLOWED = "access:method-not-allowed"
DIRECTORY_READ_ONLY = "access:directory-read-only"


@dataclass(frozen=True, slots=True)
class Who:
    """The calling side of a request, as the access log records it."""

    client: AuditedClient | None
    end_user: AuditedEndUser | None
    purpose_of_use: tuple[Code, ...]
    request_id: str | None
    correlation_id: str | None
    gateway_base_url: str


@dataclass(slots=True)
class AccessTrail:
    kind: EventKind
    subtype: Code
    action: Action
    touched: list[tuple[str | None, AuditedData]] = field(default_factory=list)
    query: bytes | None = None
    decision: AuditedDecision | None = None
    patients: list[str] = field(default_factory=list)
    # Known before authentication succeeds, e.g. the client an assertion claimed to be.
    claimed_client_id: str | None = None
    # Per patient: the agreements (id and version) their data was shared under.
    agreements: dict[str | None, list[str]] = field(default_factory=dict)
    # Per patient: dissent overridden or glass broken (the deciding sources, the
    # justification as stated), each written as a security alert as well.
    break_glass: dict[str | None, tuple[list[AuditedData], str]] = field(default_factory=dict)

    def saw(self, record: StoredResource) -> None:
        """A resource returned or written: its event names the person it is about, as
        established when it was written (core.fhir.patients)."""
        data = AuditedData(record.resource_type, record.id, record.version_id)
        self.touched.append((_patient_of(record), data))

    def refused(self, record: StoredResource, rule: str, detail: str | None = None) -> None:
        """A resource the caller asked for and was refused, and the rule that refused it
        (with the agreement or consent provision that decided, when one did)."""
        self.saw(record)
        self.decision = AuditedDecision(rule, detail)

    def shared(self, record: StoredResource, decision: Decision, justification: str | None) -> None:
        """A permitted sharing of `record` (already noted by `saw`): its agreement, and a
        break-glass alert when the decision obliges one."""
        patient = _patient_of(record)
        if decision.agreement is not None:
            labels = self.agreements.setdefault(patient, [])
            if decision.agreement not in labels:
                labels.append(decision.agreement)
        if Obligation.RECORD_BREAK_GLASS in decision.obligations:
            why = "; ".join(
                f"{reason.rule.value} {reason.source}" if reason.source else reason.rule.value
                for reason in decision.reasons
            )
            if justification:
                why += f"; justification: {justification}"
            data, _ = self.break_glass.get(patient, ([], why))
            item = AuditedData(record.resource_type, record.id, record.version_id)
            if item not in data:
                data.append(item)
            self.break_glass[patient] = (data, why)

    def concerns(self, patient: str | None) -> None:
        """The request was about this person even if it touched none of their resources
        (their access history, a report): their event is written all the same."""
        if patient is not None and patient not in self.patients:
            self.patients.append(patient)

    def refers_to(
        self,
        resource_type: str,
        resource_id: str,
        version_id: int | None,
        patient: str | None = None,
    ) -> None:
        """A resource named without being read from the store: what a refused request
        asked for, or an AuditEvent the IG read."""
        self.touched.append((patient, AuditedData(resource_type, resource_id, version_id)))

    def events(
        self,
        who: Who,
        outcome: AuditOutcome,
        outcome_desc: str | None = None,
        *,
        now: Clock = utc_now,
        new_id: IdSource = new_id,
    ) -> list[AuditFacts]:
        """One event per patient (in the order first seen), plus one for data that
        belongs to no patient, or a single event when nothing was touched."""
        groups: dict[str | None, list[AuditedData]] = {patient: [] for patient in self.patients}
        for patient, data in self.touched:
            if data not in groups.setdefault(patient, []):
                groups[patient].append(data)
        if not groups:
            groups[None] = []
        recorded = now()
        events = [
            replace(
                _facts(who, recorded, new_id()),
                kind=self.kind,
                subtype=self.subtype,
                action=self.action,
                outcome=outcome,
                outcome_desc=outcome_desc,
                patient=patient,
                data=tuple(data),
                query=self.query,
                decision=self._decision_for(patient, outcome),
            )
            for patient, data in groups.items()
        ]
        if outcome == AuditOutcome.SUCCESS:
            events.extend(
                replace(
                    _facts(who, recorded, new_id()),
                    kind=EventKind.SECURITY_ALERT,
                    subtype=Subtype.BREAK_GLASS,
                    action=self.action,
                    outcome_desc="Recorded dissent overridden, or glass broken, to share data.",
                    patient=patient,
                    data=tuple(data),
                    decision=AuditedDecision(Rule.OVERRIDDEN.value, why),
                )
                for patient, (data, why) in self.break_glass.items()
            )
        return events

    def _decision_for(self, patient: str | None, outcome: AuditOutcome) -> AuditedDecision | None:
        """A refusal's deciding rule; for a success, the agreements the data was shared
        under (the decision set for the request, when no sharing was weighed)."""
        labels = self.agreements.get(patient) if outcome == AuditOutcome.SUCCESS else None
        if labels:
            return AuditedDecision(Rule.AGREEMENT_PERMITS.value, ", ".join(labels))
        return self.decision


def _patient_of(record: StoredResource) -> str | None:
    """The person's identifier (an NHS number, or a local identifier) stored with the
    record; None for data about nobody, or whose person was never established."""
    return record.facts.patient if record.facts is not None else None


def _facts(who: Who, recorded: datetime, event_id: str) -> AuditFacts:
    """An event's facts about who called, for the caller to complete with what happened."""
    return AuditFacts(
        event_id=event_id,
        recorded=recorded,
        kind=EventKind.REST,
        subtype=Subtype.READ,
        action="E",
        outcome=AuditOutcome.SUCCESS,
        outcome_desc=None,
        client=who.client,
        end_user=who.end_user,
        gateway_base_url=who.gateway_base_url,
        purpose_of_use=who.purpose_of_use,
        patient=None,
        data=(),
        query=None,
        request_id=who.request_id,
        correlation_id=who.correlation_id,
        decision=None,
    )
