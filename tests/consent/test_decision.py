"""The decision point as a decision table: one request, the person's consent statements
and the data-sharing agreements in, one decision (and why) out."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from consent.agreements import Agreement, cover, england_date, shared_with
from consent.decision import decide
from consent.model import (
    DATA_CATEGORIES,
    DataCategory,
    Decision,
    Obligation,
    Reason,
    Rule,
    SharingRequest,
)
from consent.purposes import Purpose
from consent.statements import (
    FUTURE_SKEW,
    ConsentStatement,
    Period,
    Provision,
    ProvisionType,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)
NHS_NUMBER = "9434765919"
# A person with no NHS number yet, by the provider's local identifier system.
LOCAL_SYSTEM = "https://example-recovery.example.org/Id/client-number"
DATA_CATEGORY = "https://fhir.mh-gateway.example.org/CodeSystem/data-category"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
RESOURCE_TYPE = {
    "referral": "ServiceRequest",
    "escalation": "Communication",
    "risk-flag": "Flag",
    "safeguarding": "Communication",
    "audit": "AuditEvent",
}
CLINICAL: frozenset[DataCategory] = frozenset(
    {"referral", "escalation", "risk-flag", "safeguarding"}
)


# -- builders ---------------------------------------------------------------------------


def dsa(
    id: str = "DSA-001",
    version: str = "2",
    parties: tuple[str, ...] = ("AZZ", "RZZ"),
    purposes: tuple[str, ...] = ("direct-care",),
    categories: frozenset[DataCategory] | tuple[DataCategory, ...] = CLINICAL,
    valid_from: date = date(2026, 1, 1),
    valid_to: date | None = None,
    status: str = "active",
    withhold_free_text: bool = False,
) -> Agreement:
    return Agreement(
        id=id,
        version=version,
        parties=frozenset(parties),
        purposes=frozenset(purposes),  # type: ignore[arg-type]
        categories=frozenset(categories),
        valid_from=valid_from,
        valid_to=valid_to,
        status=status,  # type: ignore[arg-type]
        withhold_free_text=withhold_free_text,
    )


def request(
    purpose: Purpose = Purpose.TREAT,
    *,
    origin: str | None = "AZZ",
    recipient: str = "RZZ",
    category: DataCategory = "referral",
    resource_type: str | None = None,
    patient: str | None = NHS_NUMBER,
    role: str | None = "trust-crisis-system",
    labels: frozenset[tuple[str, str]] = frozenset(),
    data_date: datetime | None = None,
    justification: str | None = None,
    actor: str | None = None,
    about_a_person: bool = True,
) -> SharingRequest:
    """A read by the recipient's client of data the origin made (or, given an actor, a
    write or delivery by it)."""
    return SharingRequest(
        actor=actor or recipient,
        actor_role=role,
        purpose=purpose,
        action="read" if actor is None else "write",
        category=category,
        origin=origin,
        recipient=recipient,
        patient=patient,
        resource_type=resource_type or RESOURCE_TYPE[category],
        security_labels=labels,
        data_date=data_date,
        justification=justification,
        about_a_person=about_a_person,
    )


def provision(
    type: ProvisionType | None,
    *children: Provision,
    actors: tuple[str, ...] = (),
    unresolved_actor: bool = False,
    purposes: tuple[str, ...] = (),
    period: Period | None = None,
    data_period: Period | None = None,
    classes: tuple[str, ...] = (),
    labels: tuple[tuple[str, str], ...] = (),
) -> Provision:
    return Provision(
        type=type,
        actors=frozenset(actors),
        unresolved_actor=unresolved_actor,
        purposes=frozenset(purposes),
        period=period,
        data_period=data_period,
        classes=frozenset(classes),
        security_labels=frozenset(labels),
        provisions=children,
    )


def _with_paths(node: Provision, path: str = "provision") -> Provision:
    children = tuple(
        _with_paths(child, f"{path}.provision[{index}]")
        for index, child in enumerate(node.provisions)
    )
    return dataclasses.replace(node, path=path, provisions=children)


def consent(
    root: Provision | None,
    *,
    id: str = "c1",
    status: str = "active",
    recorded: datetime | None = datetime(2026, 10, 1, tzinfo=UTC),
    last_updated: datetime = datetime(2026, 10, 1, 9, 0, tzinfo=UTC),
    unreadable: bool = False,
    custodian: str | None = "AZZ",
) -> ConsentStatement:
    """A statement recorded by `custodian`: by default the provider whose data most cases
    share (request's default origin)."""
    return ConsentStatement(
        id=id,
        status=status,
        recorded=recorded,
        last_updated=last_updated,
        provision=None if root is None else _with_paths(root),
        custodian=custodian,
        unreadable=unreadable,
    )


def at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# -- the agreements most cases share --------------------------------------------------

DIRECT_CARE = dsa()  # AZZ <-> RZZ, direct care, all clinical data
SAFEGUARDING = dsa("DSA-002", "1", purposes=("safeguarding",))
SERVICE_IMPROVEMENT = dsa(
    "DSA-003", "1", purposes=("service-improvement",), categories=("referral",)
)
RYY_DIRECT_CARE = dsa("DSA-010", "1", parties=("AZZ", "RYY"))
AGREEMENTS = (DIRECT_CARE, SAFEGUARDING, SERVICE_IMPROVEMENT, RYY_DIRECT_CARE)

BY_DC = Reason(Rule.AGREEMENT_PERMITS, "DSA-001 v2")
BY_SG = Reason(Rule.AGREEMENT_PERMITS, "DSA-002 v1")
BY_SI = Reason(Rule.AGREEMENT_PERMITS, "DSA-003 v1")
BY_RYY = Reason(Rule.AGREEMENT_PERMITS, "DSA-010 v1")
IMPLIED = Reason(Rule.IMPLIED_CONSENT)
NO_STATEMENT = Reason(Rule.NO_STATEMENT_APPLIES)
BREAK_GLASS = frozenset({Obligation.RECORD_BREAK_GLASS})
WITHHOLD = frozenset({Obligation.WITHHOLD_FREE_TEXT})


def dissent(at_path: str = "provision", consent_id: str = "c1") -> Reason:
    return Reason(Rule.DISSENT, f"Consent/{consent_id} {at_path}")


def permit_by(at_path: str = "provision", consent_id: str = "c1") -> Reason:
    return Reason(Rule.CONSENT_PERMITS, f"Consent/{consent_id} {at_path}")


# Statements the cases share.
DISSENT_ALL = consent(provision("deny"))
DISSENT_FROM_RZZ = consent(provision("permit", provision("deny", actors=("RZZ",))))
ONLY_RZZ_MAY_SEE = consent(provision("deny", provision(None, actors=("RZZ",))))
NO_TREATMENT = consent(provision("deny", purposes=("TREAT",)))
NO_RISK_FLAGS = consent(provision("deny", classes=("risk-flag",)))
NO_FLAGS = consent(provision("deny", classes=("Flag",)))
RESTRICTED_LABEL = (CONFIDENTIALITY, "R")
NO_RESTRICTED = consent(provision("deny", labels=(RESTRICTED_LABEL,)))
FIRST_HALF_OF_2026 = Period(at(date(2026, 1, 1)), at(date(2026, 6, 30), 23))
NO_EARLY_DATA = consent(provision("deny", data_period=FIRST_HALF_OF_2026))
UNREADABLE = consent(None, id="c9", unreadable=True)


@dataclass(frozen=True)
class Case:
    request: SharingRequest
    permitted: bool
    # The deciding reason first, then those that led to it.
    reasons: tuple[Reason, ...]
    consents: tuple[ConsentStatement, ...] = ()
    agreements: tuple[Agreement, ...] = AGREEMENTS
    obligations: frozenset[Obligation] = frozenset()
    now: datetime = NOW


def case(
    id: str,
    req: SharingRequest,
    permitted: bool,
    *reasons: Reason,
    consents: tuple[ConsentStatement, ...] = (),
    agreements: tuple[Agreement, ...] = AGREEMENTS,
    obligations: frozenset[Obligation] = frozenset(),
    now: datetime = NOW,
) -> object:
    return pytest.param(
        Case(req, permitted, reasons, consents, agreements, obligations, now), id=id
    )


CASES = [
    # -- 1. origin, 2. same organisation ----------------------------------------------
    case(
        "origin-unknown-denied-even-with-dsa",
        request(origin=None),
        False,
        Reason(Rule.ORIGIN_UNKNOWN),
    ),
    case(
        "same-organisation-without-any-dsa-permitted",
        request(origin="RZZ"),
        True,
        Reason(Rule.SAME_ORGANISATION),
        agreements=(),
    ),
    case(
        "same-organisation-dissent-not-consulted",
        request(origin="RZZ"),
        True,
        Reason(Rule.SAME_ORGANISATION),
        consents=(DISSENT_ALL,),
        agreements=(),
    ),
    # -- 3. a person not known ---------------------------------------------------------
    case(
        "unknown-person-never-shared-whatever-the-agreement-and-consent",
        request(patient=None),
        False,
        Reason(Rule.PATIENT_UNKNOWN),
        consents=(consent(provision("permit")),),
    ),
    case(
        "unknown-person-never-shared-even-to-protect-someone",
        request(Purpose.BTG, patient=None, justification="Risk to life"),
        False,
        Reason(Rule.PATIENT_UNKNOWN),
    ),
    case(
        "unknown-persons-data-stays-readable-by-its-origin",
        request(origin="RZZ", patient=None),
        True,
        Reason(Rule.SAME_ORGANISATION),
    ),
    case(
        "a-local-identifier-is-a-person-like-an-nhs-number",
        request(patient=f"{LOCAL_SYSTEM}|C-000417"),
        False,
        dissent(),
        BY_DC,
        consents=(DISSENT_ALL,),
    ),
    # -- 4. agreements ----------------------------------------------------------------
    case("no-dsa-at-all", request(), False, Reason(Rule.NO_AGREEMENT), agreements=()),
    case(
        "dsa-between-other-organisations-only",
        request(),
        False,
        Reason(Rule.NO_AGREEMENT),
        agreements=(dsa(parties=("RYY", "AXX")), dsa("DSA-009", parties=("AZZ", "RYY"))),
    ),
    case(
        "dsa-for-another-purpose",
        request(Purpose.TREAT),
        False,
        Reason(Rule.AGREEMENT_PURPOSE_NOT_COVERED, "DSA-003 v1"),
        agreements=(SERVICE_IMPROVEMENT,),
    ),
    case(
        "dsa-not-covering-the-category",
        request(category="risk-flag"),
        False,
        Reason(Rule.AGREEMENT_CATEGORY_NOT_COVERED, "DSA-001 v2"),
        agreements=(dsa(categories=("referral", "escalation")),),
    ),
    case(
        "dsa-expired-yesterday",
        request(),
        False,
        Reason(Rule.AGREEMENT_EXPIRED, "DSA-001 v2"),
        agreements=(dsa(valid_to=YESTERDAY),),
    ),
    case(
        "dsa-valid-to-today-still-in-force",
        request(),
        True,
        BY_DC,
        IMPLIED,
        agreements=(dsa(valid_to=TODAY),),
    ),
    case(
        "dsa-valid-from-today-in-force",
        request(),
        True,
        BY_DC,
        IMPLIED,
        agreements=(dsa(valid_from=TODAY),),
    ),
    case(
        "dsa-future-dated",
        request(),
        False,
        Reason(Rule.AGREEMENT_NOT_YET_VALID, "DSA-001 v2"),
        agreements=(dsa(valid_from=TOMORROW),),
    ),
    case(
        "dsa-suspended",
        request(),
        False,
        Reason(Rule.AGREEMENT_SUSPENDED, "DSA-001 v2"),
        agreements=(dsa(status="suspended"),),
    ),
    case(
        "dsa-draft",
        request(),
        False,
        Reason(Rule.AGREEMENT_NOT_IN_FORCE, "DSA-001 v2"),
        agreements=(dsa(status="draft"),),
    ),
    case(
        "dsa-terminated",
        request(),
        False,
        Reason(Rule.AGREEMENT_NOT_IN_FORCE, "DSA-001 v2"),
        agreements=(dsa(status="terminated"),),
    ),
    case(
        "expired-dsa-for-category-named-before-one-missing-the-category",
        request(category="referral"),
        False,
        Reason(Rule.AGREEMENT_EXPIRED, "DSA-005 v1"),
        agreements=(
            dsa("DSA-004", "1", categories=("escalation",)),
            dsa("DSA-005", "1", categories=("referral",), valid_to=YESTERDAY),
        ),
    ),
    case(
        "category-missing-named-before-another-purpose",
        request(category="risk-flag"),
        False,
        Reason(Rule.AGREEMENT_CATEGORY_NOT_COVERED, "DSA-008 v1"),
        agreements=(SERVICE_IMPROVEMENT, dsa("DSA-008", "1", categories=("referral",))),
    ),
    case(
        "dsa-is-symmetric",
        request(origin="RZZ", recipient="AZZ", role="provider-epr"),
        True,
        BY_DC,
        IMPLIED,
    ),
    case(
        "several-dsas-cover-first-by-id-named",
        request(),
        True,
        Reason(Rule.AGREEMENT_PERMITS, "DSA-004 v2"),
        IMPLIED,
        agreements=(dsa("DSA-007", "1"), dsa("DSA-004", "2"), dsa("DSA-005", "3")),
    ),
    case(
        "in-force-dsa-preferred-to-an-earlier-expired-one",
        request(),
        True,
        Reason(Rule.AGREEMENT_PERMITS, "DSA-006 v1"),
        IMPLIED,
        agreements=(dsa("DSA-001", "1", valid_to=YESTERDAY), dsa("DSA-006", "1")),
    ),
    case(
        "dsa-withholding-free-text-obliges",
        request(),
        True,
        BY_DC,
        IMPLIED,
        agreements=(dsa(withhold_free_text=True),),
        obligations=WITHHOLD,
    ),
    case(
        "no-dsa-denies-whatever-the-person-said",
        request(),
        False,
        Reason(Rule.NO_AGREEMENT),
        consents=(consent(provision("permit")),),
        agreements=(),
    ),
    # -- 5. consent ---------------------------------------------------------------------
    case(
        "data-about-nobody-permitted-on-dsa",
        request(patient=None, resource_type="Provenance", about_a_person=False),
        True,
        BY_DC,
        Reason(Rule.NO_PATIENT),
        consents=(DISSENT_ALL,),
    ),
    case("no-consent-implied-for-direct-care", request(), True, BY_DC, IMPLIED),
    case(
        "no-consent-service-improvement-on-dsa",
        request(Purpose.SERVICE_IMPROVEMENT),
        True,
        BY_SI,
        NO_STATEMENT,
    ),
    case(
        "no-consent-safeguarding-on-dsa",
        request(Purpose.SAFEGUARDING, category="safeguarding"),
        True,
        BY_SG,
        NO_STATEMENT,
    ),
    case(
        "consent-permit",
        request(Purpose.SERVICE_IMPROVEMENT),
        True,
        BY_SI,
        permit_by(),
        consents=(consent(provision("permit")),),
    ),
    case(
        "dissent-for-all",
        request(),
        False,
        dissent(),
        BY_DC,
        consents=(DISSENT_ALL,),
    ),
    case(
        "dissent-for-all-service-improvement",
        request(Purpose.SERVICE_IMPROVEMENT),
        False,
        dissent(),
        BY_SI,
        consents=(DISSENT_ALL,),
    ),
    case(
        "root-provision-without-type-read-as-deny",
        request(),
        False,
        dissent(),
        BY_DC,
        consents=(consent(provision(None)),),
    ),
    case(
        "dissent-from-one-organisation-denies-it",
        request(recipient="RZZ"),
        False,
        dissent("provision.provision[0]"),
        BY_DC,
        consents=(DISSENT_FROM_RZZ,),
    ),
    case(
        "dissent-from-one-organisation-permits-another-with-its-dsa",
        request(recipient="RYY"),
        True,
        BY_RYY,
        permit_by(),
        consents=(DISSENT_FROM_RZZ,),
    ),
    case(
        "dissent-naming-the-origin-not-the-recipient-does-not-apply",
        request(origin="AZZ", recipient="RZZ"),
        True,
        BY_DC,
        permit_by(),
        consents=(consent(provision("permit", provision("deny", actors=("AZZ",)))),),
    ),
    case(
        "dissent-names-the-recipient-not-the-acting-client",
        request(recipient="RZZ", actor="AZZ", role="provider-epr"),
        False,
        dissent("provision.provision[0]"),
        BY_DC,
        consents=(DISSENT_FROM_RZZ,),
    ),
    case(
        "dissent-from-the-acting-client-does-not-cover-a-write-to-another",
        request(recipient="RYY", actor="AZZ", role="provider-epr"),
        True,
        BY_RYY,
        permit_by(),
        consents=(consent(provision("permit", provision("deny", actors=("AZZ",)))),),
    ),
    case(
        "dissent-period-starting-now-applies",
        request(),
        False,
        dissent(),
        BY_DC,
        consents=(consent(provision("deny", period=Period(NOW, None))),),
    ),
    case(
        "dissent-period-ending-now-applies",
        request(),
        False,
        dissent(),
        BY_DC,
        consents=(consent(provision("deny", period=Period(None, NOW))),),
    ),
    case(
        "dissent-period-ended",
        request(),
        True,
        BY_DC,
        IMPLIED,
        consents=(consent(provision("deny", period=Period(at(date(2026, 1, 1)), at(YESTERDAY)))),),
    ),
    case(
        "dissent-period-not-yet-started",
        request(),
        True,
        BY_DC,
        IMPLIED,
        consents=(consent(provision("deny", period=Period(at(TOMORROW), None))),),
    ),
    case(
        "dissent-period-current",
        request(),
        False,
        dissent(),
        BY_DC,
        consents=(consent(provision("deny", period=Period(at(YESTERDAY), at(TOMORROW)))),),
    ),
    case(
        "untyped-exception-inside-deny-permits-named-organisation",
        request(recipient="RZZ"),
        True,
        BY_DC,
        permit_by("provision.provision[0]"),
        consents=(ONLY_RZZ_MAY_SEE,),
    ),
    case(
        "permit-inside-deny-permits-named-organisation",
        request(recipient="RZZ"),
        True,
        BY_DC,
        permit_by("provision.provision[0]"),
        consents=(consent(provision("deny", provision("permit", actors=("RZZ",)))),),
    ),
    case(
        "exception-inside-deny-still-denies-others",
        request(recipient="RYY"),
        False,
        dissent(),
        BY_RYY,
        consents=(ONLY_RZZ_MAY_SEE,),
    ),
    case(
        "deny-inside-permit-inside-deny-deepest-answers",
        request(category="risk-flag"),
        False,
        dissent("provision.provision[0].provision[0]"),
        BY_DC,
        consents=(
            consent(
                provision(
                    "deny",
                    provision(None, provision(None, classes=("risk-flag",)), actors=("RZZ",)),
                )
            ),
        ),
    ),
    case(
        "deny-inside-permit-inside-deny-other-data-permitted",
        request(category="referral"),
        True,
        BY_DC,
        permit_by("provision.provision[0]"),
        consents=(
            consent(
                provision(
                    "deny",
                    provision(None, provision(None, classes=("risk-flag",)), actors=("RZZ",)),
                )
            ),
        ),
    ),
    # -- criteria -------------------------------------------------------------------------
    case(
        "purpose-dissent-treat-denies-treat",
        request(Purpose.TREAT),
        False,
        dissent(),
        BY_DC,
        consents=(NO_TREATMENT,),
    ),
    case(
        "purpose-dissent-treat-covers-etreat",
        request(Purpose.ETREAT, role=None),
        False,
        Reason(Rule.OVERRIDE_ROLE_NOT_ALLOWED),
        dissent(),
        BY_DC,
        consents=(NO_TREATMENT,),
    ),
    case(
        "purpose-dissent-treat-covers-btg",
        request(Purpose.BTG),
        False,
        Reason(Rule.OVERRIDE_NEEDS_JUSTIFICATION),
        dissent(),
        BY_DC,
        consents=(NO_TREATMENT,),
    ),
    case(
        "purpose-dissent-treat-not-safeguarding",
        request(Purpose.SAFEGUARDING, category="safeguarding"),
        True,
        BY_SG,
        NO_STATEMENT,
        consents=(NO_TREATMENT,),
    ),
    case(
        "purpose-dissent-direct-care-code-covers-treat",
        request(Purpose.TREAT),
        False,
        dissent(),
        BY_DC,
        consents=(consent(provision("deny", purposes=("direct-care",))),),
    ),
    case(
        "purpose-dissent-etreat-does-not-cover-treat",
        request(Purpose.TREAT),
        True,
        BY_DC,
        IMPLIED,
        consents=(consent(provision("deny", purposes=("ETREAT",))),),
    ),
    case(
        "class-dissent-category-applies-to-risk-flags",
        request(category="risk-flag"),
        False,
        dissent(),
        BY_DC,
        consents=(NO_RISK_FLAGS,),
    ),
    case(
        "class-dissent-category-not-referrals",
        request(category="referral"),
        True,
        BY_DC,
        IMPLIED,
        consents=(NO_RISK_FLAGS,),
    ),
    case(
        "class-dissent-resource-type-applies-to-flags",
        request(category="risk-flag", resource_type="Flag"),
        False,
        dissent(),
        BY_DC,
        consents=(NO_FLAGS,),
    ),
    case(
        "class-dissent-resource-type-not-communications",
        request(category="escalation", resource_type="Communication"),
        True,
        BY_DC,
        IMPLIED,
        consents=(NO_FLAGS,),
    ),
    case(
        "security-label-dissent-applies-to-labelled-data",
        request(labels=frozenset({RESTRICTED_LABEL, ("urn:other", "X")})),
        False,
        dissent(),
        BY_DC,
        consents=(NO_RESTRICTED,),
    ),
    case(
        "security-label-dissent-any-one-of-its-labels-matches",
        request(labels=frozenset({(CONFIDENTIALITY, "V")})),
        False,
        dissent(),
        BY_DC,
        consents=(consent(provision("deny", labels=(RESTRICTED_LABEL, (CONFIDENTIALITY, "V")))),),
    ),
    case(
        "security-label-dissent-not-unlabelled-data",
        request(),
        True,
        BY_DC,
        IMPLIED,
        consents=(NO_RESTRICTED,),
    ),
    case(
        "security-label-dissent-same-code-other-system-not-matched",
        request(labels=frozenset({("urn:other", "R")})),
        True,
        BY_DC,
        IMPLIED,
        consents=(NO_RESTRICTED,),
    ),
    case(
        "data-period-dissent-data-inside",
        request(data_date=at(date(2026, 3, 15), 10)),
        False,
        dissent(),
        BY_DC,
        consents=(NO_EARLY_DATA,),
    ),
    case(
        "data-period-dissent-data-outside",
        request(data_date=at(date(2026, 9, 1), 10)),
        True,
        BY_DC,
        IMPLIED,
        consents=(NO_EARLY_DATA,),
    ),
    case(
        "data-period-dissent-data-date-unknown-deny-applies",
        request(data_date=None),
        False,
        dissent(),
        BY_DC,
        consents=(NO_EARLY_DATA,),
    ),
    case(
        "data-period-permit-data-date-unknown-does-not-apply",
        request(data_date=None),
        False,
        dissent(),
        BY_DC,
        consents=(consent(provision("deny", provision("permit", data_period=FIRST_HALF_OF_2026))),),
    ),
    case(
        "data-period-permit-data-inside-applies",
        request(data_date=at(date(2026, 2, 1))),
        True,
        BY_DC,
        permit_by("provision.provision[0]"),
        consents=(consent(provision("deny", provision("permit", data_period=FIRST_HALF_OF_2026))),),
    ),
    case(
        "unresolved-actor-on-deny-applies-to-rzz",
        request(recipient="RZZ"),
        False,
        dissent("provision.provision[0]"),
        BY_DC,
        consents=(consent(provision("permit", provision("deny", unresolved_actor=True))),),
    ),
    case(
        "unresolved-actor-on-deny-applies-to-ryy",
        request(recipient="RYY"),
        False,
        dissent("provision.provision[0]"),
        BY_RYY,
        consents=(consent(provision("permit", provision("deny", unresolved_actor=True))),),
    ),
    case(
        "unresolved-actor-on-permit-applies-to-nobody",
        request(recipient="RZZ"),
        False,
        dissent(),
        BY_DC,
        consents=(consent(provision("deny", provision("permit", unresolved_actor=True))),),
    ),
    case(
        "unresolved-actor-beside-named-actor-on-permit-applies-to-named",
        request(recipient="RZZ"),
        True,
        BY_DC,
        permit_by("provision.provision[0]"),
        consents=(
            consent(provision("deny", provision(None, actors=("RZZ",), unresolved_actor=True))),
        ),
    ),
    case(
        "sibling-deny-overrides-earlier-permit",
        request(category="risk-flag"),
        False,
        dissent("provision.provision[1]"),
        BY_DC,
        consents=(
            consent(
                provision(
                    "deny",
                    provision("permit", actors=("RZZ",)),
                    provision("deny", actors=("RZZ",), classes=("risk-flag",)),
                )
            ),
        ),
    ),
    case(
        "sibling-deny-overrides-later-permit",
        request(category="risk-flag"),
        False,
        dissent("provision.provision[0]"),
        BY_DC,
        consents=(
            consent(
                provision(
                    "permit",
                    provision("deny", classes=("risk-flag",)),
                    provision("permit", actors=("RZZ",)),
                )
            ),
        ),
    ),
    case(
        "sibling-permit-alone-when-deny-does-not-apply",
        request(category="referral"),
        True,
        BY_DC,
        permit_by("provision.provision[0]"),
        consents=(
            consent(
                provision(
                    "deny",
                    provision("permit", actors=("RZZ",)),
                    provision("deny", actors=("RZZ",), classes=("risk-flag",)),
                )
            ),
        ),
    ),
    case(
        "two-applying-permit-siblings-the-first-answers",
        request(recipient="RZZ"),
        True,
        BY_DC,
        permit_by("provision.provision[0]"),
        consents=(
            consent(
                provision(
                    "deny",
                    provision("permit", actors=("RZZ",)),
                    provision("permit", purposes=("TREAT",)),
                )
            ),
        ),
    ),
    # -- 6. overrides ---------------------------------------------------------------------
    case(
        "safeguarding-override-trust-crisis-system",
        request(
            Purpose.SAFEGUARDING,
            category="safeguarding",
            role="trust-crisis-system",
            justification="Risk to a child reported by the crisis line",
        ),
        True,
        Reason(Rule.OVERRIDDEN),
        dissent(),
        BY_SG,
        consents=(DISSENT_ALL,),
        obligations=BREAK_GLASS,
    ),
    case(
        "safeguarding-override-provider-epr",
        request(
            Purpose.SAFEGUARDING,
            category="safeguarding",
            role="provider-epr",
            justification="Section 47 enquiry",
        ),
        True,
        Reason(Rule.OVERRIDDEN),
        dissent(),
        BY_SG,
        consents=(DISSENT_ALL,),
        obligations=BREAK_GLASS,
    ),
    case(
        "safeguarding-override-without-justification",
        request(Purpose.SAFEGUARDING, category="safeguarding", justification=None),
        False,
        Reason(Rule.OVERRIDE_NEEDS_JUSTIFICATION),
        dissent(),
        BY_SG,
        consents=(DISSENT_ALL,),
    ),
    case(
        "safeguarding-override-whitespace-justification",
        request(Purpose.SAFEGUARDING, category="safeguarding", justification=" \t\n "),
        False,
        Reason(Rule.OVERRIDE_NEEDS_JUSTIFICATION),
        dissent(),
        BY_SG,
        consents=(DISSENT_ALL,),
    ),
    case(
        "safeguarding-override-ig-lead-role",
        request(
            Purpose.SAFEGUARDING, category="safeguarding", role="ig-lead", justification="audit"
        ),
        False,
        Reason(Rule.OVERRIDE_ROLE_NOT_ALLOWED),
        dissent(),
        BY_SG,
        consents=(DISSENT_ALL,),
    ),
    case(
        "safeguarding-override-no-role",
        request(Purpose.SAFEGUARDING, category="safeguarding", role=None, justification="risk"),
        False,
        Reason(Rule.OVERRIDE_ROLE_NOT_ALLOWED),
        dissent(),
        BY_SG,
        consents=(DISSENT_ALL,),
    ),
    case(
        "etreat-override",
        request(Purpose.ETREAT, justification="Unconscious in A&E, history needed"),
        True,
        Reason(Rule.OVERRIDDEN),
        dissent(),
        BY_DC,
        consents=(DISSENT_ALL,),
        obligations=BREAK_GLASS,
    ),
    case(
        "btg-override",
        request(Purpose.BTG, role="provider-epr", justification="Imminent risk to life"),
        True,
        Reason(Rule.OVERRIDDEN),
        dissent(),
        BY_DC,
        consents=(DISSENT_ALL,),
        obligations=BREAK_GLASS,
    ),
    case(
        "btg-without-dissent-still-recorded-as-break-glass",
        request(Purpose.BTG),
        True,
        BY_DC,
        IMPLIED,
        obligations=BREAK_GLASS,
    ),
    case(
        "btg-with-no-patient-still-recorded-as-break-glass",
        request(Purpose.BTG, patient=None, resource_type="Provenance", about_a_person=False),
        True,
        BY_DC,
        Reason(Rule.NO_PATIENT),
        obligations=BREAK_GLASS,
    ),
    case(
        "btg-denied-carries-no-obligations",
        request(Purpose.BTG, role="ig-lead", justification="risk"),
        False,
        Reason(Rule.OVERRIDE_ROLE_NOT_ALLOWED),
        dissent(),
        BY_DC,
        consents=(DISSENT_ALL,),
    ),
    case(
        "treat-cannot-override-even-with-justification",
        request(Purpose.TREAT, role="trust-crisis-system", justification="Needed for care"),
        False,
        dissent(),
        BY_DC,
        consents=(DISSENT_ALL,),
    ),
    case(
        "service-improvement-cannot-override",
        request(Purpose.SERVICE_IMPROVEMENT, justification="Audit of outcomes"),
        False,
        dissent(),
        BY_SI,
        consents=(DISSENT_ALL,),
    ),
    case(
        "override-still-needs-a-dsa-for-its-purpose",
        request(Purpose.SAFEGUARDING, category="safeguarding", justification="Risk to a child"),
        False,
        Reason(Rule.AGREEMENT_PURPOSE_NOT_COVERED, "DSA-001 v2"),
        consents=(DISSENT_ALL,),
        agreements=(DIRECT_CARE,),
    ),
    case(
        "override-with-withholding-dsa-carries-both-obligations",
        request(Purpose.BTG, justification="Imminent risk to life"),
        True,
        Reason(Rule.OVERRIDDEN),
        dissent(),
        BY_DC,
        consents=(DISSENT_ALL,),
        agreements=(dsa(withhold_free_text=True),),
        obligations=BREAK_GLASS | WITHHOLD,
    ),
    case(
        "dissent-with-withholding-dsa-carries-no-obligations",
        request(),
        False,
        dissent(),
        BY_DC,
        consents=(DISSENT_ALL,),
        agreements=(dsa(withhold_free_text=True),),
    ),
    # -- several statements -------------------------------------------------------------
    case(
        "newer-permit-after-older-deny",
        request(),
        True,
        BY_DC,
        permit_by(consent_id="c2"),
        consents=(
            consent(provision("deny"), id="c1", recorded=at(date(2026, 3, 1))),
            consent(provision("permit"), id="c2", recorded=at(date(2026, 9, 1))),
        ),
    ),
    case(
        "newer-deny-after-older-permit",
        request(),
        False,
        dissent(consent_id="c1"),
        BY_DC,
        consents=(
            consent(provision("deny"), id="c1", recorded=at(date(2026, 9, 1))),
            consent(provision("permit"), id="c2", recorded=at(date(2026, 3, 1))),
        ),
    ),
    case(
        "newer-statement-not-applying-falls-back-to-older",
        request(recipient="RZZ"),
        False,
        dissent(consent_id="c1"),
        BY_DC,
        consents=(
            consent(provision("deny"), id="c1", recorded=at(date(2026, 3, 1))),
            consent(provision("permit", actors=("RYY",)), id="c2", recorded=at(date(2026, 9, 1))),
        ),
    ),
    case(
        "same-date-time-later-last-updated-wins-permit",
        request(),
        True,
        BY_DC,
        permit_by(consent_id="c1"),
        consents=(
            consent(provision("permit"), id="c1", last_updated=at(date(2026, 10, 3))),
            consent(provision("deny"), id="c2", last_updated=at(date(2026, 10, 2))),
        ),
    ),
    case(
        "same-date-time-later-last-updated-wins-deny",
        request(),
        False,
        dissent(consent_id="c1"),
        BY_DC,
        consents=(
            consent(provision("deny"), id="c1", last_updated=at(date(2026, 10, 3))),
            consent(provision("permit"), id="c2", last_updated=at(date(2026, 10, 2))),
        ),
    ),
    *[
        case(
            f"{status}-dissent-ignored",
            request(),
            True,
            BY_DC,
            IMPLIED,
            consents=(consent(provision("deny"), status=status),),
        )
        for status in ("draft", "proposed", "inactive", "rejected", "entered-in-error")
    ],
    case(
        "inactive-newer-permit-does-not-replace-active-dissent",
        request(),
        False,
        dissent(consent_id="c1"),
        BY_DC,
        consents=(
            consent(provision("deny"), id="c1", recorded=at(date(2026, 3, 1))),
            consent(provision("permit"), id="c2", status="inactive", recorded=at(date(2026, 9, 1))),
        ),
    ),
    case(
        "active-unreadable-statement-denies",
        request(),
        False,
        Reason(Rule.CONSENT_UNREADABLE, "Consent/c9"),
        BY_DC,
        consents=(UNREADABLE,),
    ),
    case(
        "active-statement-without-provision-denies-as-unreadable",
        request(),
        False,
        Reason(Rule.CONSENT_UNREADABLE, "Consent/c9"),
        BY_DC,
        consents=(consent(None, id="c9"),),
    ),
    case(
        "active-unreadable-statement-beats-newer-permit",
        request(),
        False,
        Reason(Rule.CONSENT_UNREADABLE, "Consent/c9"),
        BY_DC,
        consents=(
            consent(provision("permit"), id="c1", recorded=at(date(2026, 11, 1))),
            UNREADABLE,
        ),
    ),
    case(
        "inactive-unreadable-statement-ignored",
        request(),
        True,
        BY_DC,
        IMPLIED,
        consents=(consent(None, id="c9", status="inactive", unreadable=True),),
    ),
    case(
        "unreadable-statement-overridden-by-break-glass",
        request(Purpose.BTG, justification="Imminent risk to life"),
        True,
        Reason(Rule.OVERRIDDEN),
        Reason(Rule.CONSENT_UNREADABLE, "Consent/c9"),
        BY_DC,
        consents=(UNREADABLE,),
        obligations=BREAK_GLASS,
    ),
    case(
        "unreadable-statement-with-service-improvement-denied",
        request(Purpose.SERVICE_IMPROVEMENT, justification="Audit"),
        False,
        Reason(Rule.CONSENT_UNREADABLE, "Consent/c9"),
        BY_SI,
        consents=(UNREADABLE,),
    ),
    # -- whose statement: only the origin's own, and nothing dated ahead ------------------
    case(
        "trust-dissent-does-not-govern-the-providers-data",
        request(),
        True,
        BY_DC,
        IMPLIED,
        consents=(consent(provision("deny"), custodian="RZZ"),),
    ),
    case(
        "third-organisation-dissent-does-not-stop-the-providers-sharing",
        request(actor="AZZ", role="provider-epr"),
        True,
        BY_DC,
        IMPLIED,
        consents=(consent(provision("deny"), custodian="AXX"),),
    ),
    case(
        "third-organisation-newer-permit-does-not-lift-the-providers-dissent",
        request(),
        False,
        dissent(consent_id="c1"),
        BY_DC,
        consents=(
            consent(provision("deny"), id="c1", recorded=at(date(2026, 3, 1))),
            consent(provision("permit"), id="c2", recorded=at(date(2026, 11, 1)), custodian="AXX"),
        ),
    ),
    case(
        "trust-dissent-governs-the-trusts-own-data",
        request(origin="RZZ", recipient="AZZ", role="provider-epr"),
        False,
        dissent(consent_id="c3"),
        BY_DC,
        consents=(DISSENT_ALL, consent(provision("deny"), id="c3", custodian="RZZ")),
    ),
    case(
        "providers-dissent-does-not-govern-the-trusts-data",
        request(origin="RZZ", recipient="AZZ", role="provider-epr"),
        True,
        BY_DC,
        IMPLIED,
        consents=(DISSENT_ALL,),
    ),
    case(
        "statement-whose-custodian-cannot-be-read-governs-nothing",
        request(),
        True,
        BY_DC,
        IMPLIED,
        consents=(consent(provision("deny"), custodian=None),),
    ),
    case(
        "another-organisations-unreadable-statement-ignored",
        request(),
        True,
        BY_DC,
        IMPLIED,
        consents=(consent(None, id="c9", unreadable=True, custodian="RZZ"),),
    ),
    case(
        "future-dated-dissent-does-not-count",
        request(),
        True,
        BY_DC,
        IMPLIED,
        consents=(consent(provision("deny"), recorded=NOW + timedelta(days=1)),),
    ),
    case(
        "dissent-dated-within-the-clock-skew-counts",
        request(),
        False,
        dissent(),
        BY_DC,
        consents=(consent(provision("deny"), recorded=NOW + FUTURE_SKEW),),
    ),
    case(
        "future-dated-permit-does-not-outrank-an-older-dissent",
        request(),
        False,
        dissent(consent_id="c1"),
        BY_DC,
        consents=(
            consent(provision("deny"), id="c1"),
            consent(provision("permit"), id="c2", recorded=NOW + timedelta(days=30)),
        ),
    ),
    # -- England's date -------------------------------------------------------------------
    case(
        "valid-to-inclusive-until-midnight-bst",
        request(),
        True,
        BY_DC,
        IMPLIED,
        agreements=(dsa(valid_to=date(2026, 6, 30)),),
        now=datetime(2026, 6, 30, 22, 59, tzinfo=UTC),  # 23:59 BST
    ),
    case(
        "valid-to-passed-at-midnight-bst-before-utc-midnight",
        request(),
        False,
        Reason(Rule.AGREEMENT_EXPIRED, "DSA-001 v2"),
        agreements=(dsa(valid_to=date(2026, 6, 30)),),
        now=datetime(2026, 6, 30, 23, 30, tzinfo=UTC),  # 00:30 BST on 1 July
    ),
    case(
        "valid-from-reached-at-midnight-bst-before-utc-midnight",
        request(),
        True,
        BY_DC,
        IMPLIED,
        agreements=(dsa(valid_from=date(2026, 7, 1)),),
        now=datetime(2026, 6, 30, 23, 30, tzinfo=UTC),
    ),
    case(
        "valid-to-in-winter-gmt-until-utc-midnight",
        request(),
        True,
        BY_DC,
        IMPLIED,
        agreements=(dsa(valid_to=date(2026, 12, 31)),),
        now=datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize("c", CASES)
def test_decision_table(c: Case) -> None:
    decision = decide(c.request, c.consents, c.agreements, c.now)

    assert decision.permitted is c.permitted
    assert decision.rule is c.reasons[0].rule
    assert decision.source == c.reasons[0].source
    assert decision.reasons == c.reasons
    assert decision.obligations == c.obligations


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 45


def test_a_permit_names_its_agreement_a_deny_none() -> None:
    permit = decide(request(), (), AGREEMENTS, NOW)
    deny = decide(request(), (DISSENT_ALL,), AGREEMENTS, NOW)
    overridden = decide(request(Purpose.BTG, justification="risk"), (DISSENT_ALL,), AGREEMENTS, NOW)
    same = decide(request(origin="RZZ"), (), (), NOW)

    assert permit.agreement == "DSA-001 v2"
    assert overridden.agreement == "DSA-001 v2"
    assert deny.agreement is None
    assert same.agreement is None


def test_decide_accepts_one_shot_iterables() -> None:
    decision = decide(request(recipient="RYY"), iter([DISSENT_FROM_RZZ]), iter(AGREEMENTS), NOW)
    assert decision == Decision(True, (BY_RYY, permit_by()), frozenset(), "DSA-010 v1")


def test_decision_is_the_same_twice() -> None:
    req = request(Purpose.BTG, justification="risk")
    consents = (DISSENT_FROM_RZZ, NO_TREATMENT, UNREADABLE)
    assert decide(req, consents, AGREEMENTS, NOW) == decide(req, consents, AGREEMENTS, NOW)


def test_two_unreadable_statements_name_the_same_one_in_any_order() -> None:
    """Deterministic: which statement the refusal names does not depend on the order the
    store returned the statements in."""
    first = consent(None, id="c1", unreadable=True, recorded=None)
    second = consent(None, id="c2", unreadable=True, recorded=None)

    one = decide(request(), (first, second), AGREEMENTS, NOW)
    other = decide(request(), (second, first), AGREEMENTS, NOW)

    assert not one.permitted
    assert not other.permitted
    assert one == other


# -- agreements on their own ------------------------------------------------------------


def test_england_date_follows_british_summer_time() -> None:
    assert england_date(datetime(2026, 6, 30, 22, 59, tzinfo=UTC)) == date(2026, 6, 30)
    assert england_date(datetime(2026, 6, 30, 23, 0, tzinfo=UTC)) == date(2026, 7, 1)
    assert england_date(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert england_date(datetime(2027, 1, 1, 0, 0, tzinfo=UTC)) == date(2027, 1, 1)


@pytest.mark.parametrize(
    ("agreement", "today", "rule"),
    [
        pytest.param(dsa(), TODAY, None, id="open-ended"),
        pytest.param(dsa(valid_to=TODAY), TODAY, None, id="last-day"),
        pytest.param(dsa(valid_from=TODAY), TODAY, None, id="first-day"),
        pytest.param(dsa(valid_to=YESTERDAY), TODAY, Rule.AGREEMENT_EXPIRED, id="expired"),
        pytest.param(dsa(valid_from=TOMORROW), TODAY, Rule.AGREEMENT_NOT_YET_VALID, id="future"),
        pytest.param(
            dsa(status="suspended", valid_to=YESTERDAY),
            TODAY,
            Rule.AGREEMENT_SUSPENDED,
            id="suspended-before-expired",
        ),
        pytest.param(
            dsa(status="draft", valid_from=TOMORROW),
            TODAY,
            Rule.AGREEMENT_NOT_IN_FORCE,
            id="draft-before-future",
        ),
    ],
)
def test_in_force_rule(agreement: Agreement, today: date, rule: Rule | None) -> None:
    assert agreement.in_force_rule(today) == rule


@pytest.mark.parametrize(
    ("agreement", "days", "expected"),
    [
        pytest.param(dsa(valid_to=TODAY + timedelta(days=30)), 30, True, id="on-the-horizon"),
        pytest.param(dsa(valid_to=TODAY + timedelta(days=31)), 30, False, id="beyond-it"),
        pytest.param(dsa(valid_to=TODAY), 0, True, id="last-day-today"),
        pytest.param(dsa(valid_to=TODAY + timedelta(days=1)), 0, False, id="tomorrow-zero-days"),
        pytest.param(dsa(valid_to=None), 10_000, False, id="open-ended-never"),
        pytest.param(dsa(valid_to=YESTERDAY), 30, False, id="already-expired"),
        pytest.param(
            dsa(valid_to=TODAY + timedelta(days=5), status="suspended"), 30, False, id="suspended"
        ),
        pytest.param(
            dsa(valid_from=TOMORROW, valid_to=TOMORROW + timedelta(days=2)),
            30,
            False,
            id="not-yet-valid",
        ),
    ],
)
def test_expires_within(agreement: Agreement, days: int, expected: bool) -> None:
    assert agreement.expires_within(TODAY, days) is expected


def test_shared_with_lists_each_origin_and_its_categories() -> None:
    agreements = [
        dsa("DSA-001", parties=("AZZ", "RZZ"), categories=("referral",)),
        dsa("DSA-002", parties=("AZZ", "RZZ"), categories=("escalation",)),
        dsa("DSA-003", parties=("RZZ", "RYY", "AXX"), categories=("risk-flag",)),
        # Not in force, another purpose, or not a party: none of these count.
        dsa("DSA-004", parties=("AZZ", "RZZ"), categories=("audit",), valid_to=YESTERDAY),
        dsa("DSA-005", parties=("AZZ", "RZZ"), categories=("audit",), status="suspended"),
        dsa("DSA-006", parties=("AZZ", "RZZ"), purposes=("safeguarding",)),
        dsa("DSA-007", parties=("AZZ", "RYY"), categories=("safeguarding",)),
    ]

    shared = shared_with(agreements, "RZZ", "direct-care", NOW)

    assert dict(shared) == {
        "AXX": frozenset({"risk-flag"}),
        "AZZ": frozenset({"referral", "escalation"}),
        "RYY": frozenset({"risk-flag"}),
    }
    assert list(shared) == ["AXX", "AZZ", "RYY"]
    assert "RZZ" not in shared


def test_shared_with_uses_england_date() -> None:
    agreements = [dsa(valid_to=date(2026, 6, 30))]
    before = shared_with(
        agreements, "RZZ", "direct-care", datetime(2026, 6, 30, 22, 59, tzinfo=UTC)
    )
    after = shared_with(agreements, "RZZ", "direct-care", datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    assert before == {"AZZ": CLINICAL}
    assert after == {}


def test_shared_with_nothing() -> None:
    assert shared_with([], "RZZ", "direct-care", NOW) == {}
    assert shared_with(AGREEMENTS, "XYZ", "direct-care", NOW) == {}


def test_cover_returns_the_agreement_itself() -> None:
    found = cover(AGREEMENTS, "RZZ", "AZZ", "safeguarding", "safeguarding", NOW)
    assert found.agreement is SAFEGUARDING
    assert found.reason == BY_SG


@pytest.mark.parametrize("category", DATA_CATEGORIES)
def test_cover_audit_data_needs_an_agreement_naming_it(category: DataCategory) -> None:
    found = cover([DIRECT_CARE], "AZZ", "RZZ", "direct-care", category, NOW)
    assert (found.agreement is DIRECT_CARE) is (category in CLINICAL)
