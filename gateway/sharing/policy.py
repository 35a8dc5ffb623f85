"""The decision point (consent.decide) applied to one requester: a caller's request, or
the send-time re-check of a delivery on behalf of the organisation that pushed it.

Built per unit of work from the agreements in force and the Requester; reads each patient's
Consent resources once per request, whatever number of that patient's resources the
request touches, and remembers each decision so that what a search admitted and what
the access log records are the same decisions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from consent.agreements import Agreement, shared_with
from consent.decision import decide
from consent.model import (
    DATA_CATEGORIES,
    Action,
    DataCategory,
    Decision,
    Obligation,
    Reason,
    Rule,
    SharingRequest,
)
from consent.statements import ConsentStatement
from core.fhir.parties import DIRECTORY_TYPES, sender_role
from core.fhir.patients import is_about_a_person
from core.sharing.consents import consent_statement
from core.sharing.facts import SharedData, shared_data, without_free_text
from gateway.auth.purpose import JUSTIFICATION_HEADER, PURPOSE_OF_USE_HEADER
from gateway.fhir.store import (
    Party,
    ResourceStore,
    SharingFacts,
    SharingFilter,
    StoredResource,
)
from gateway.platform.errors import SharingRefused
from gateway.sharing.requester import Requester

# Statements about sharing are always recordable, and readable by the organisations
# party to them: a person's dissent must never be blocked by that dissent.
EXEMPT_TYPES = DIRECTORY_TYPES | {"Consent"}
_EXEMPT = Decision(True, (Reason(Rule.EXEMPT),))


class SharingPolicy:
    """Decisions on sharing with, or on behalf of, one `requester`."""

    def __init__(
        self,
        store: ResourceStore,
        requester: Requester,
        agreements: Sequence[Agreement],
        now: datetime,
        *,
        statements: dict[str, list[ConsentStatement]] | None = None,
    ) -> None:
        self._store = store
        self._requester = requester
        self._agreements = agreements
        self._now = now
        # Each person's Consent statements, by their identifier; may be shared between the
        # policies of one unit of work (a delivery round re-checks for several senders).
        self._statements = {} if statements is None else statements
        self._decisions: dict[tuple[str, str, int], Decision] = {}

    # -- reads and searches -----------------------------------------------------------

    def search_filter(self) -> SharingFilter:
        shared = shared_with(
            self._agreements,
            self._requester.organisation,
            self._requester.purpose.agreement_purpose,
            self._now,
        )
        return SharingFilter(self._requester.organisation, shared, self.admit)

    def admit(self, records: list[StoredResource]) -> list[bool]:
        """Whether each record may be shown to the requester (decisions remembered)."""
        self.read_consents(
            record.facts.patient
            for record in records
            if record.facts is not None and record.facts.origin != self._requester.organisation
        )
        return [self.on_read(record).permitted for record in records]

    def on_read(self, record: StoredResource) -> Decision:
        """The decision on showing the current version `record` to the requester."""
        key = (record.resource_type, record.id, record.version_id)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide_read(record)
            self._decisions[key] = decision
        return decision

    def decided(self, record: StoredResource) -> Decision | None:
        return self._decisions.get((record.resource_type, record.id, record.version_id))

    def _decide_read(self, record: StoredResource) -> Decision:
        if record.resource_type in EXEMPT_TYPES:
            return _EXEMPT
        facts = record.facts or SharingFacts(None, None, None)
        category = _category(facts.category)
        if category is None:
            # Not recorded, or not one the gateway knows: never shared (fail closed).
            facts = SharingFacts(facts.patient, None, None)
        statements = self._statements_for(facts.patient) if facts.origin else []
        # Labels and dates matter only to consent provisions: parse only when there are.
        data = (
            shared_data(record.resource_type, json.loads(record.content), facts.patient)
            if statements
            else None
        )
        return decide(
            self._request(
                "read",
                record.resource_type,
                category=category or "referral",
                origin=facts.origin,
                recipient=self._requester.organisation,
                patient=facts.patient,
                data=data,
            ),
            statements,
            self._agreements,
            self._now,
        )

    # -- writes -----------------------------------------------------------------------

    def on_write(
        self,
        resource_type: str,
        resource: Mapping[str, Any],
        patient: str | None,
        recipients: Iterable[str],
        *,
        action: Action = "write",
    ) -> list[tuple[str, Decision]]:
        """For each organisation (other than the requester's) the written resource is shared
        with, the decision on that sharing; `patient` is the person it is about, as
        established (core.fhir.patients); `action` "deliver" when it is being sent."""
        if resource_type in EXEMPT_TYPES:
            return []
        data = shared_data(resource_type, resource, patient)
        return self.on_share(resource_type, data, recipients, action=action)

    def on_share(
        self,
        resource_type: str,
        data: SharedData,
        recipients: Iterable[str],
        *,
        action: Action = "write",
    ) -> list[tuple[str, Decision]]:
        """As on_write, from the resource's sharing facts (a delivery keeps them)."""
        if resource_type in EXEMPT_TYPES:
            return []
        statements = self._statements_for(data.patient)
        return [
            (
                recipient,
                decide(
                    self._request(
                        action,
                        resource_type,
                        category=data.category,
                        origin=self._requester.organisation,
                        recipient=recipient,
                        patient=data.patient,
                        data=data,
                    ),
                    statements,
                    self._agreements,
                    self._now,
                ),
            )
            for recipient in sorted(set(recipients) - {self._requester.organisation})
        ]

    # -- shared -----------------------------------------------------------------------

    def _request(
        self,
        action: Action,
        resource_type: str,
        *,
        category: DataCategory,
        origin: str | None,
        recipient: str,
        patient: str | None,
        data: SharedData | None,
    ) -> SharingRequest:
        return SharingRequest(
            actor=self._requester.organisation,
            actor_role=self._requester.role,
            purpose=self._requester.purpose,
            action=action,
            category=category,
            origin=origin,
            recipient=recipient,
            patient=patient,
            resource_type=resource_type,
            security_labels=data.security_labels if data else frozenset(),
            data_date=data.made_at if data else None,
            justification=self._requester.justification,
            about_a_person=is_about_a_person(resource_type),
        )

    def _statements_for(self, patient: str | None) -> list[ConsentStatement]:
        if patient is None:
            return []
        self.read_consents([patient])
        return self._statements.get(patient, [])

    def read_consents(self, patients: Iterable[str | None]) -> None:
        """Read, in one query, the Consents of those patients not read yet."""
        wanted = sorted({p for p in patients if p is not None and p not in self._statements})
        if not wanted:
            return
        for patient in wanted:
            self._statements[patient] = []
        for record in self._store.consents_for(wanted):
            if record.facts is None or not record.facts.patient:
                continue
            # The origin of a Consent is its custodian, resolved when it was written.
            statement = consent_statement(
                record.id,
                record.last_updated,
                json.loads(record.content),
                resolved_custodian=record.facts.origin,
            )
            if statement is not None:
                self._statements[record.facts.patient].append(statement)


def _category(value: str | None) -> DataCategory | None:
    return next((category for category in DATA_CATEGORIES if category == value), None)


def as_shown(content: str, decision: Decision | None) -> str:
    """A stored resource's JSON text as a reader the `decision` permits is shown it:
    without its free text where the decision obliges that, else as stored."""
    if decision is None or Obligation.WITHHOLD_FREE_TEXT not in decision.obligations:
        return content
    shown = without_free_text(json.loads(content))
    return json.dumps(shown, ensure_ascii=False, separators=(",", ":"))


def refusal(decision: Decision, sharing: str) -> SharingRefused:
    """The error for a denied sharing ("this ServiceRequest with RZZ"), with a hint
    where the client can do something about it."""
    hint = ""
    if decision.rule in (Rule.DISSENT, Rule.CONSENT_UNREADABLE):
        hint = (
            " Where sharing is needed to protect someone, a client registered for it may "
            f"name {PURPOSE_OF_USE_HEADER} (safeguarding, ETREAT or BTG) with an "
            f"{JUSTIFICATION_HEADER}."
        )
    elif decision.rule is Rule.OVERRIDE_NEEDS_JUSTIFICATION:
        hint = f" State why in {JUSTIFICATION_HEADER}."
    return SharingRefused(
        f"Sharing {sharing} is not permitted (rule {decision.rule.value}).{hint}",
        rule=decision.rule.value,
        source=decision.source,
    )


def sharing_facts(
    resource_type: str,
    resource: Mapping[str, Any],
    patient: str | None,
    parties: Iterable[Party],
    writer: str | None,
    previous: SharingFacts | None,
) -> SharingFacts:
    """What searches filter on. The patient is the person's identifier as established
    (core.fhir.patients). The origin is the organisation that created the resource as
    its sender; every later version keeps it (only the origin, or the gateway's own
    workflow, writes one: core.fhir.authorship)."""
    data = shared_data(resource_type, resource, patient)
    basis = sender_role(resource_type, resource).basis
    senders = sorted(party.ods_code for party in parties if party.basis == basis)
    if previous is not None and previous.origin is not None:
        origin: str | None = previous.origin
    elif writer is not None and writer in senders:
        origin = writer
    else:
        origin = senders[0] if senders else None
    return SharingFacts(data.patient, origin, data.category)
