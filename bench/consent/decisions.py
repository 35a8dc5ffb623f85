"""What a decision costs, in process: `consent.decide` and `SharingPolicy.on_read`.

- `decide` with 100 agreements among 100 organisations (five of which name the pair, not
  all in force or for the purpose) and the ten consent statements of
  `consents.ten_consents` (read by `core.sharing.consents.consent_statement`), over a cycle
  of requests (two readers, treatment, emergency treatment by a crisis system with a
  justification, break-glass, referrals and escalations, restricted labels, recent and
  old data), so that answers come from different statements and rules; then the same
  with no statements (implied consent: the agreements alone decide).
- `SharingPolicy.on_read` per record, as a search page meets it: a policy per page of
  records about one patient (a policy lives for one request); the first record's call
  reads the patient's Consent resources (from a stub store, so no database time) and
  parses them, the rest use them; each of the page's records is parsed (`shared_data`)
  because the patient has statements. Then the same for a patient with no Consent (the
  record is not parsed), and `SharingPolicy.admit` of a whole page.
- For scale, `consent_statement` of the ten Consents: what a request pays once per
  patient with statements.

Timed one call at a time with time.perf_counter_ns (median, p99, mean in µs).
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from bench.consent.consents import hundred_agreements, organisations, ten_consents
from bench.data import Organisation, communication, nhs_number, service_request
from bench.stats import CallTiming, call_timing, time_calls
from consent.agreements import Agreement
from consent.decision import decide
from consent.model import DataCategory, Decision, Rule, SharingRequest
from consent.purposes import Purpose
from consent.statements import ConsentStatement
from core.sharing.consents import consent_statement
from core.sharing.facts import shared_data
from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.fhir.storage import validated, versioned
from gateway.fhir.store import ResourceStore, SharingFacts, StoredResource
from gateway.sharing.policy import SharingPolicy
from gateway.sharing.requester import Requester

TARGET_MEDIAN_US = 50.0
PAGE = 20  # records per policy: a search page
PATIENT = 4_200_042  # the patient decided about (an NHS number in the test range)
ORGANISATIONS = 100


@dataclass(frozen=True, slots=True)
class Setup:
    now: datetime
    agreements: list[Agreement]
    origin: str
    readers: tuple[str, str]
    consents: list[StoredResource]  # the ten Consent resources, as stored
    statements: list[ConsentStatement]
    requests: list[SharingRequest]


def measure_decisions(calls: int, seed: int, now: datetime) -> list[CallTiming]:
    setup = make_setup(seed, now)
    records = _records(setup, seed)
    pages = max(1, calls // PAGE)
    timings = [
        _decide_timing(
            f"decide: {len(setup.agreements)} agreements, {len(setup.statements)} consent "
            f"statements ({sum(s.status == 'active' for s in setup.statements)} active)",
            calls,
            setup,
            setup.statements,
        ),
        _decide_timing(
            f"decide: {len(setup.agreements)} agreements, no consent statement",
            calls,
            setup,
            [],
        ),
        _on_read_timing(
            f"SharingPolicy.on_read per record: patient with {len(setup.consents)} "
            f"Consents (read and parsed once per policy of {PAGE} records)",
            pages,
            setup,
            records,
            setup.consents,
        ),
        _on_read_timing(
            f"SharingPolicy.on_read per record: patient with no Consent (policy per {PAGE})",
            pages,
            setup,
            records,
            [],
        ),
        _admit_timing(
            f"SharingPolicy.admit of a page of {PAGE} records, patient with "
            f"{len(setup.consents)} Consents (new policy each page)",
            max(1, pages // 4),
            setup,
            records,
        ),
        _parse_timing(
            f"consent_statement of the {len(setup.consents)} Consents (once per patient "
            "per request)",
            max(1, pages // 4),
            setup.consents,
        ),
    ]
    return timings


def make_setup(seed: int, now: datetime) -> Setup:
    rng = random.Random(seed)
    orgs = organisations(ORGANISATIONS)
    origin, first, second, other = rng.sample(orgs, 4)
    # A statement governs its custodian's records only: recorded by the data's origin.
    custodian = origin
    agreements = hundred_agreements(orgs, origin, (first, second), now, rng)
    patient = nhs_number(PATIENT)
    bodies = ten_consents(patient, custodian, (first, second), other, now)
    consents = []
    for number, body in enumerate(bodies):
        if validated("Consent", body) != body:
            raise AssertionError("validation changes a benchmark Consent")
        moment = now - timedelta(days=900 - number * 90)
        record = versioned("Consent", f"consent-{number}", 1, moment, body)
        facts = SharingFacts(patient, custodian, "referral")
        consents.append(
            StoredResource(
                record.resource_type,
                record.id,
                1,
                record.last_updated,
                record.content,
                facts,
            )
        )
    statements = [
        statement
        for record in consents
        if (
            statement := consent_statement(
                record.id, record.last_updated, json.loads(record.content)
            )
        )
        is not None
    ]
    if len(statements) != len(bodies) or any(s.unreadable for s in statements):
        raise AssertionError("a benchmark Consent is not read as a privacy consent")
    return Setup(
        now,
        agreements,
        origin,
        (first, second),
        consents,
        statements,
        _requests(origin, (first, second), patient, now),
    )


def _requests(
    origin: str, readers: tuple[str, str], patient: str, now: datetime
) -> list[SharingRequest]:
    """A cycle of reads of the patient's data from `origin`, by either reader."""
    restricted = frozenset({("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R")})
    variants: list[
        tuple[Purpose, str | None, str | None, DataCategory, str, frozenset[tuple[str, str]], int]
    ] = [
        (Purpose.TREAT, None, None, "referral", "ServiceRequest", frozenset(), 3),
        (Purpose.TREAT, None, None, "escalation", "Communication", frozenset(), 3),
        (Purpose.TREAT, None, None, "referral", "Communication", restricted, 30),
        (Purpose.TREAT, None, None, "referral", "ServiceRequest", frozenset(), 500),
        (
            Purpose.ETREAT,
            "trust-crisis-system",
            "Crisis team assessing now",
            "escalation",
            "Communication",
            restricted,
            1,
        ),
        (
            Purpose.BTG,
            "provider-epr",
            "Unconscious in A&E",
            "referral",
            "ServiceRequest",
            frozenset(),
            700,
        ),
        (Purpose.TREAT, None, None, "risk-flag", "Flag", frozenset(), 10),
        # A dissent overridden: break-glass by an EPR, with a justification.
        (Purpose.BTG, "provider-epr", "Collapsed in clinic", "risk-flag", "Flag", frozenset(), 5),
        (Purpose.ETREAT, None, None, "referral", "ServiceRequest", frozenset(), 400),
    ]
    return [
        SharingRequest(
            actor=reader,
            actor_role=role,
            purpose=purpose,
            action="read",
            category=category,
            origin=origin,
            recipient=reader,
            patient=patient,
            resource_type=resource_type,
            security_labels=labels,
            data_date=now - timedelta(days=age),
            justification=justification,
        )
        for reader in readers
        for purpose, role, justification, category, resource_type, labels, age in variants
    ]


def _decide_timing(
    check: str, calls: int, setup: Setup, statements: Sequence[ConsentStatement]
) -> CallTiming:
    requests, agreements, now = setup.requests, setup.agreements, setup.now
    outcomes = Counter(_outcome(decide(r, statements, agreements, now)) for r in requests)
    cycle = len(requests)
    samples = time_calls(calls, lambda i: decide(requests[i % cycle], statements, agreements, now))
    return call_timing(check, samples, _scaled(outcomes, calls, cycle))


def _on_read_timing(
    check: str,
    pages: int,
    setup: Setup,
    records: list[StoredResource],
    consents: list[StoredResource],
) -> CallTiming:
    store = cast(ResourceStore, _ConsentsOnly(consents))
    reader = setup.readers[0]
    caller = _caller(reader)
    outcomes: Counter[str] = Counter()
    gc.collect()
    samples: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(pages):
        policy = SharingPolicy(store, Requester.of_caller(caller), setup.agreements, setup.now)
        for record in records:
            started = clock()
            policy.on_read(record)
            samples.append(clock() - started)
    policy = SharingPolicy(store, Requester.of_caller(caller), setup.agreements, setup.now)
    outcomes.update(_outcome(policy.on_read(record)) for record in records)
    return call_timing(check, samples, _scaled(outcomes, len(samples), len(records)))


def _admit_timing(
    check: str, pages: int, setup: Setup, records: list[StoredResource]
) -> CallTiming:
    store = cast(ResourceStore, _ConsentsOnly(setup.consents))
    caller = _caller(setup.readers[0])
    agreements, now = setup.agreements, setup.now
    samples = time_calls(
        pages,
        lambda _: SharingPolicy(store, Requester.of_caller(caller), agreements, now).admit(records),
    )
    admitted = SharingPolicy(store, Requester.of_caller(caller), agreements, now).admit(records)
    outcomes = {
        "admitted per page": sum(admitted),
        "refused per page": len(admitted) - sum(admitted),
    }
    return call_timing(check, samples, outcomes)


def _parse_timing(check: str, calls: int, consents: list[StoredResource]) -> CallTiming:
    def parse(_: int) -> object:
        return [
            consent_statement(record.id, record.last_updated, json.loads(record.content))
            for record in consents
        ]

    return call_timing(check, time_calls(calls, parse))


class _ConsentsOnly:
    """What SharingPolicy asks a ResourceStore for on reads: the patients' Consents."""

    def __init__(self, consents: list[StoredResource]) -> None:
        self._consents = consents

    def consents_for(self, patients: Sequence[str]) -> list[StoredResource]:
        wanted = set(patients)
        return [c for c in self._consents if c.facts is not None and c.facts.patient in wanted]


def _records(setup: Setup, seed: int) -> list[StoredResource]:
    """A page of the patient's records from `origin`, as stored: ServiceRequests and
    Communications (half of those escalations), over the last two years."""
    rng = random.Random(seed + 1)
    origin = Organisation(id="00000000-0000-4000-8000-000000000001", ods=setup.origin)
    reader = Organisation(id="00000000-0000-4000-8000-000000000002", ods=setup.readers[0])
    patient = PATIENT
    records = []
    for number in range(PAGE):
        moment = setup.now - timedelta(days=rng.randrange(0, 730))
        if number % 2 == 0:
            resource_type = "ServiceRequest"
            body = service_request(patient, origin, reader, moment, rng)
        else:
            resource_type = "Communication"
            body = communication(patient, reader, origin, moment, rng)
        data = shared_data(resource_type, body, nhs_number(patient))
        record = versioned(resource_type, f"record-{number}", 1, moment, body)
        records.append(
            StoredResource(
                resource_type,
                record.id,
                1,
                record.last_updated,
                record.content,
                SharingFacts(data.patient, setup.origin, data.category),
            )
        )
    return records


def _caller(ods: str) -> Caller:
    return Caller(
        client_id=f"bench-{ods.lower()}",
        ods_code=ods,
        role=None,
        scopes=ScopeSet.parse(["system/ServiceRequest.rs", "system/Communication.rs"]),
        purpose_of_use="direct-care",
    )


def _outcome(decision: Decision) -> str:
    """The decision and the rule that settled it: for a permit resting on an agreement,
    what consent said (implied, a permit, no statement applying)."""
    if not decision.permitted:
        return f"deny {decision.rule.value}"
    reasons = decision.reasons
    if reasons[0].rule is Rule.AGREEMENT_PERMITS and len(reasons) > 1:
        return f"permit {reasons[1].rule.value}"
    return f"permit {decision.rule.value}"


def _scaled(outcomes: Counter[str], calls: int, cycle: int) -> dict[str, int]:
    """The outcomes of one cycle, scaled to the number of timed calls (approximately)."""
    return {key: round(count * calls / cycle) for key, count in sorted(outcomes.items())}
