"""The consent statements and agreements the consent benchmark decides with.

Consent resources are FHIR R4 privacy consents (scope patient-privacy) as a Trust would
record them, read by the gateway's own `core.sharing.consents.consent_statement`; every one
made here must pass `validated` unchanged (checked where they are used).

- `patient_consents`: what a consenting patient of the loaded store has recorded (one or
  two Consents, of four kinds, some dissenting from the reader the searches act as);
- `ten_consents`: the ten statements on one patient that the in-process decision timings
  use, mixed: inactive, draft and rejected ones, periods, nested provisions, actors,
  purposes, classes, security labels and data periods;
- `hundred_agreements`: 100 agreements among 100 organisations, a handful of them naming
  the pair whose sharing is decided (not all in force, not all for the purpose).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from consent.agreements import Agreement, AgreementStatus, england_date
from consent.model import DataCategory
from consent.purposes import AgreementPurpose
from core.codes import common as codes
from core.codes import sharing as sharing_codes

LOINC = "http://loinc.org"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
RESTRICTED = (CONFIDENTIALITY, "R")

Json = dict[str, Any]


def instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def consent_resource(
    patient_nhs: str,
    custodian: str,
    recorded: datetime,
    provision: Json,
    *,
    status: str = "active",
    rule: str = "Recorded with the patient",
) -> Json:
    return {
        "resourceType": "Consent",
        "status": status,
        "scope": {"coding": [sharing_codes.CONSENT_SCOPE_PRIVACY.coding()]},
        "category": [{"coding": [{"system": LOINC, "code": "59284-0"}]}],
        "patient": {"identifier": {"system": codes.NHS_NUMBER_SYSTEM, "value": patient_nhs}},
        "dateTime": instant(recorded),
        "organization": [
            {"identifier": {"system": codes.ODS_ORGANISATION_SYSTEM, "value": custodian}}
        ],
        "policyRule": {"text": rule},
        "provision": provision,
    }


def provision(
    kind: str | None = None,
    *,
    actors: Sequence[str] = (),
    purposes: Sequence[str] = (),
    resource_types: Sequence[str] = (),
    categories: Sequence[str] = (),
    labels: Sequence[tuple[str, str]] = (),
    period: tuple[datetime | None, datetime | None] | None = None,
    data_period: tuple[datetime | None, datetime | None] | None = None,
    children: Sequence[Json] = (),
) -> Json:
    """A Consent.provision; `kind` None leaves type out (an exception to its parent)."""
    node: Json = {}
    if kind is not None:
        node["type"] = kind
    if period is not None:
        node["period"] = _period(period)
    if actors:
        node["actor"] = [
            {
                "role": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]},
                "reference": {
                    "identifier": {"system": codes.ODS_ORGANISATION_SYSTEM, "value": ods}
                },
            }
            for ods in actors
        ]
    if labels:
        node["securityLabel"] = [{"system": system, "code": code} for system, code in labels]
    if purposes:
        node["purpose"] = [
            {"system": sharing_codes.V3_ACT_REASON_SYSTEM, "code": p} for p in purposes
        ]
    classes = [{"system": sharing_codes.RESOURCE_TYPES_SYSTEM, "code": t} for t in resource_types]
    classes += [{"system": sharing_codes.DATA_CATEGORY_SYSTEM, "code": c} for c in categories]
    if classes:
        node["class"] = classes
    if data_period is not None:
        node["dataPeriod"] = _period(data_period)
    if children:
        node["provision"] = list(children)
    return node


def _period(span: tuple[datetime | None, datetime | None]) -> Json:
    start, end = span
    period: Json = {}
    if start is not None:
        period["start"] = instant(start)
    if end is not None:
        period["end"] = instant(end)
    return period


# -- the loaded store's consenting patients ---------------------------------------------

# What a consenting patient of the loaded store has said, with how often it is said.
KINDS: tuple[tuple[str, float], ...] = (
    # provision deny: shared with no other organisation (each sees only what it made).
    ("opt-out", 0.3),
    # deny, except to the patient's trust (the reader of the ServiceRequest searches).
    ("opt-out except the trust", 0.3),
    # permit, except to one other organisation, for treatment.
    ("dissent from one organisation", 0.2),
    # permit, except ServiceRequests made before a date, to the trust: dissent from the
    # reader for older data (a dataPeriod).
    ("dissent from the trust for older referrals", 0.2),
)
# How many consenting patients also have an older statement, since made inactive.
SUPERSEDED_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class PatientConsents:
    kind: str
    bodies: list[Json]


def patient_consents(
    patient_nhs: str,
    trust: str,
    other: str,
    recorded: datetime,
    older_than: datetime,
    rng: random.Random,
) -> PatientConsents:
    """One consenting patient's Consent resources, recorded by their trust at `recorded`.

    `other` is the organisation a dissent from one organisation names; `older_than` the
    end of the data period an older-referrals dissent covers."""
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    if kind == "opt-out":
        root = provision("deny")
    elif kind == "opt-out except the trust":
        root = provision("deny", children=[provision("permit", actors=[trust])])
    elif kind == "dissent from one organisation":
        root = provision("permit", children=[provision("deny", actors=[other], purposes=["TREAT"])])
    else:
        root = provision(
            "permit",
            children=[
                provision(
                    "deny",
                    actors=[trust],
                    resource_types=["ServiceRequest"],
                    data_period=(None, older_than),
                )
            ],
        )
    bodies = [consent_resource(patient_nhs, trust, recorded, root, rule=kind)]
    if rng.random() < SUPERSEDED_SHARE:
        earlier = recorded - timedelta(days=rng.randrange(30, 400))
        bodies.append(
            consent_resource(
                patient_nhs,
                trust,
                earlier,
                provision("permit"),
                status="inactive",
                rule="superseded",
            )
        )
    return PatientConsents(kind, bodies)


# -- ten statements on one patient, for the in-process decision timings -----------------


def ten_consents(
    patient_nhs: str,
    custodian: str,
    readers: Sequence[str],
    other: str,
    now: datetime,
) -> list[Json]:
    """Ten Consents on one patient, oldest first: six active ones, several of which apply
    to none of the requests the timings make, so that an answer is found only some way
    down the newest-first list, and four that do not count (inactive, draft, rejected,
    and the newest, entered in error)."""
    first, second = readers[0], readers[1]

    def days_ago(days: int) -> datetime:
        return now - timedelta(days=days)

    return [
        consent_resource(
            patient_nhs, custodian, days_ago(900), provision("deny"), status="inactive"
        ),
        consent_resource(
            patient_nhs, custodian, days_ago(800), provision("permit"), status="draft"
        ),
        consent_resource(
            patient_nhs,
            custodian,
            days_ago(700),
            provision("deny", actors=[first]),
            status="rejected",
        ),
        # The base rule: share, except escalations to the first reader for treatment
        # (emergency treatment excepted from the exception), and no risk flags.
        consent_resource(
            patient_nhs,
            custodian,
            days_ago(600),
            provision(
                "permit",
                children=[
                    provision(
                        actors=[first],
                        categories=["escalation"],
                        purposes=["TREAT"],
                        children=[provision(purposes=["ETREAT"])],
                    ),
                    provision("deny", resource_types=["Flag"]),
                ],
            ),
        ),
        # A dissent that has ended.
        consent_resource(
            patient_nhs,
            custodian,
            days_ago(500),
            provision("deny", period=(days_ago(520), days_ago(400))),
        ),
        # Sharing with another organisation only.
        consent_resource(
            patient_nhs,
            custodian,
            days_ago(400),
            provision("permit", actors=[other], purposes=["TREAT", "ETREAT"]),
        ),
        # Data from before last year withheld from the second reader.
        consent_resource(
            patient_nhs,
            custodian,
            days_ago(300),
            provision(
                "deny",
                actors=[second],
                data_period=(None, days_ago(365)),
                children=[provision(resource_types=["ServiceRequest"], purposes=["ETREAT"])],
            ),
        ),
        # Safeguarding sharing refused (direct care untouched).
        consent_resource(
            patient_nhs,
            custodian,
            days_ago(200),
            provision("deny", purposes=["safeguarding"]),
        ),
        # Restricted data: not to the first reader for treatment, emergencies excepted.
        consent_resource(
            patient_nhs,
            custodian,
            days_ago(100),
            provision(
                "deny",
                actors=[first],
                labels=[RESTRICTED],
                purposes=["TREAT"],
                period=(days_ago(120), None),
                children=[provision(purposes=["ETREAT"])],
            ),
        ),
        consent_resource(
            patient_nhs, custodian, days_ago(10), provision("deny"), status="entered-in-error"
        ),
    ]


# -- one hundred agreements among one hundred organisations -----------------------------

_PURPOSES: tuple[AgreementPurpose, ...] = ("direct-care", "safeguarding", "service-improvement")
_CATEGORIES: tuple[DataCategory, ...] = ("referral", "escalation", "risk-flag", "safeguarding")


def organisations(count: int) -> list[str]:
    return [f"Q{number:04d}" for number in range(1, count + 1)]


def hundred_agreements(
    orgs: Sequence[str], origin: str, readers: Sequence[str], now: datetime, rng: random.Random
) -> list[Agreement]:
    """100 agreements among `orgs` (2 to 12 parties each; most active and in force, some
    suspended, draft, terminated, expired or not yet valid), of which five name `origin`
    and every reader: one expired, one suspended, one for safeguarding only, one in force
    for referrals and escalations, one in force for every clinical category."""
    today = england_date(now)
    agreements = [
        _random_agreement(number, orgs, today, rng)
        for number in range(1, 101)
        if number not in _PAIR_AGREEMENTS
    ]
    pair = frozenset({origin, *readers})
    for number, (status, purposes, categories, valid_to_days) in _PAIR_AGREEMENTS.items():
        others = frozenset(rng.sample(list(orgs), rng.randrange(0, 6)))
        agreements.append(
            Agreement(
                id=f"DSA-Q-{number:03d}",
                version="1",
                parties=pair | others,
                purposes=frozenset(purposes),
                categories=frozenset(categories),
                valid_from=today - timedelta(days=700),
                valid_to=None if valid_to_days is None else today + timedelta(valid_to_days),
                status=status,
            )
        )
    return sorted(agreements, key=lambda a: a.id)


_PairAgreement = tuple[
    AgreementStatus, tuple[AgreementPurpose, ...], tuple[DataCategory, ...], int | None
]
_PAIR_AGREEMENTS: dict[int, _PairAgreement] = {
    7: ("active", ("direct-care",), _CATEGORIES, -30),  # expired a month ago
    23: ("suspended", ("direct-care", "safeguarding"), _CATEGORIES, None),
    41: ("active", ("safeguarding",), ("safeguarding", "risk-flag"), None),
    58: ("active", ("direct-care",), ("referral", "escalation"), 400),
    77: ("active", ("direct-care", "safeguarding"), _CATEGORIES, None),
}


def _random_agreement(
    number: int, orgs: Sequence[str], today: date, rng: random.Random
) -> Agreement:
    status: AgreementStatus = rng.choices(
        ("active", "suspended", "draft", "terminated"), weights=(85, 5, 5, 5)
    )[0]
    valid_from = today - timedelta(days=rng.randrange(-60, 1000))
    valid_to = None if rng.random() < 0.5 else valid_from + timedelta(days=rng.randrange(200, 1500))
    return Agreement(
        id=f"DSA-Q-{number:03d}",
        version=str(rng.randrange(1, 4)),
        parties=frozenset(rng.sample(list(orgs), rng.randrange(2, 13))),
        purposes=frozenset(rng.sample(_PURPOSES, rng.randrange(1, 3))),
        categories=frozenset(rng.sample(_CATEGORIES, rng.randrange(1, 5))),
        valid_from=valid_from,
        valid_to=valid_to,
        status=status,
        withhold_free_text=rng.random() < 0.1,
    )
