"""FHIR Consent resources (UK Core shape) read into consent statements."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent.agreements import Agreement
from consent.decision import decide
from consent.model import Reason, Rule, SharingRequest
from consent.purposes import Purpose
from consent.statements import ConsentStatement, Period, Provision
from core.fhir.issues import IssueCode
from core.sharing.consents import (
    consent_custodian,
    consent_record_issues,
    consent_statement,
    is_privacy_consent,
)

SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
DATA_CATEGORY = "https://fhir.mh-gateway.example.org/CodeSystem/data-category"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
LAST_UPDATED = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def ods_actor(code: str) -> dict[str, Any]:
    return {
        "role": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "IRCP",
                }
            ]
        },
        "reference": {"identifier": {"system": ODS, "value": code}},
    }


def purpose(code: str) -> dict[str, str]:
    return {"system": V3_ACT_REASON, "code": code}


def privacy_consent(provision: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": SCOPE, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"identifier": {"system": NHS, "value": "9434765919"}},
        "dateTime": "2026-11-01T10:15:00Z",
        "organization": [{"identifier": {"system": ODS, "value": "AZZ"}}],
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTOUT"}
            ]
        },
    }
    if provision is not None:
        resource["provision"] = provision
    resource.update(extra)
    return resource


def read(resource: dict[str, Any], resource_id: str = "c1") -> ConsentStatement:
    statement = consent_statement(resource_id, LAST_UPDATED, resource)
    assert statement is not None
    return statement


def assert_unreadable(resource: dict[str, Any]) -> None:
    statement = read(resource)
    assert statement.unreadable
    assert statement.provision is None
    assert statement.recorded is None
    assert statement.id == "c1"
    assert statement.last_updated == LAST_UPDATED


# -- scope ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param({"coding": [{"system": SCOPE, "code": "treatment"}]}, id="treatment"),
        pytest.param({"coding": [{"system": SCOPE, "code": "research"}]}, id="research"),
        pytest.param({"coding": [{"system": SCOPE, "code": "adr"}]}, id="advance-directive"),
        pytest.param(
            {"coding": [{"system": "http://example.org/scope", "code": "patient-privacy"}]},
            id="privacy-code-in-another-system",
        ),
        pytest.param({"text": "patient-privacy"}, id="text-only"),
        pytest.param(None, id="missing"),
        pytest.param("patient-privacy", id="not-a-codeable-concept"),
    ],
)
def test_a_consent_that_is_not_about_privacy_is_no_statement(scope: Any) -> None:
    resource = privacy_consent({"type": "deny"}, scope=scope)
    if scope is None:
        del resource["scope"]

    assert not is_privacy_consent(resource)
    assert consent_statement("c1", LAST_UPDATED, resource) is None


def test_privacy_scope_among_other_codings_counts() -> None:
    resource = privacy_consent(
        {"type": "deny"},
        scope={
            "coding": [
                {"system": "http://example.org/local-scope", "code": "opt-out"},
                {"system": SCOPE, "code": "patient-privacy", "display": "Privacy Consent"},
            ]
        },
    )
    assert is_privacy_consent(resource)
    assert read(resource).provision is not None


def test_a_non_privacy_consent_that_is_malformed_is_still_no_statement() -> None:
    resource = privacy_consent(
        {"type": "whatever"}, scope={"coding": [{"system": SCOPE, "code": "research"}]}
    )
    assert consent_statement("c1", LAST_UPDATED, resource) is None


# -- the statement ---------------------------------------------------------------------


def test_a_uk_core_dissent_reads_into_a_statement() -> None:
    statement = read(privacy_consent({"type": "deny"}), "consent-42")

    assert statement == ConsentStatement(
        id="consent-42",
        status="active",
        recorded=datetime(2026, 11, 1, 10, 15, tzinfo=UTC),
        last_updated=LAST_UPDATED,
        provision=Provision(type="deny", path="provision"),
        custodian="AZZ",
    )
    assert statement.reference == "Consent/consent-42"


# -- the custodian: the one organisation that recorded it -------------------------------

AZZ = {"identifier": {"system": ODS, "value": "AZZ"}}
LITERAL = {"reference": "Organization/azz"}


@pytest.mark.parametrize(
    ("organisations", "resolved", "expected"),
    [
        pytest.param([AZZ], None, "AZZ", id="ods-identifier"),
        pytest.param([AZZ], "AZZ", "AZZ", id="ods-identifier-agreeing-with-the-store"),
        pytest.param([AZZ], "AXX", None, id="ods-identifier-disagreeing-with-the-store"),
        pytest.param([LITERAL], "AZZ", "AZZ", id="literal-reference-resolved-by-the-store"),
        pytest.param([LITERAL], None, None, id="literal-reference-not-resolved"),
        pytest.param([{**LITERAL, **AZZ}], "AZZ", "AZZ", id="both-agreeing"),
        pytest.param([AZZ, {"identifier": {"system": ODS, "value": "RZZ"}}], "AZZ", None, id="two"),
        pytest.param([], "AZZ", None, id="none"),
        pytest.param(None, "AZZ", None, id="missing"),
        pytest.param([{"display": "AZZ"}], "AZZ", None, id="display-only"),
        pytest.param(
            [{"identifier": {"system": "urn:other", "value": "AZZ"}}],
            None,
            None,
            id="another-identifier-system",
        ),
        pytest.param(AZZ, "AZZ", None, id="not-a-list"),
    ],
)
def test_the_custodian_is_the_one_organisation_named(
    organisations: Any, resolved: str | None, expected: str | None
) -> None:
    resource = privacy_consent({"type": "deny"})
    if organisations is None:
        del resource["organization"]
    else:
        resource["organization"] = organisations

    assert consent_custodian(resource, resolved) == expected
    statement = consent_statement("c1", LAST_UPDATED, resource, resolved_custodian=resolved)
    assert statement is not None
    assert statement.custodian == expected


def test_an_unreadable_statement_keeps_its_custodian() -> None:
    statement = read(privacy_consent({"type": "deny"}, dateTime="not a date"))
    assert statement.unreadable
    assert statement.custodian == "AZZ"


# -- what cannot be recorded: several organisations, a date ahead -----------------------


@pytest.mark.parametrize(
    "organisations",
    [
        pytest.param(None, id="missing"),
        pytest.param([], id="empty"),
        pytest.param([AZZ, {"identifier": {"system": ODS, "value": "RZZ"}}], id="two"),
    ],
)
def test_a_consent_names_exactly_one_organisation(organisations: Any) -> None:
    resource = privacy_consent({"type": "deny"})
    if organisations is None:
        del resource["organization"]
    else:
        resource["organization"] = organisations

    (issue,) = consent_record_issues(resource, NOW)
    assert issue.code is IssueCode.BUSINESS_RULE
    assert issue.expression == "Consent.organization"


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("2026-11-30T12:00:00Z", False),
        ("2026-11-30T12:05:00Z", False),  # a clock at the edge of the skew
        ("2026-11-30T12:05:01Z", True),
        ("2026-11-30", False),  # today, as a date
        ("2026-12-01", True),
        ("2026-12", True),  # a month that has not begun
        ("2026-11-30T13:00:00+01:00", False),  # the same instant in another zone
        ("2027", True),
    ],
)
def test_a_consent_may_not_be_dated_in_the_future(value: str, refused: bool) -> None:
    resource = privacy_consent({"type": "deny"}, dateTime=value)
    issues = consent_record_issues(resource, NOW)
    assert [issue.expression for issue in issues] == (["Consent.dateTime"] if refused else [])
    assert all(issue.code is IssueCode.BUSINESS_RULE for issue in issues)


def test_the_record_rules_apply_to_every_consent_not_only_privacy() -> None:
    treatment = privacy_consent(
        {"type": "deny"},
        scope={"coding": [{"system": SCOPE, "code": "treatment"}]},
        dateTime="2027-01-01",
        organization=[],
    )
    expressions = [issue.expression for issue in consent_record_issues(treatment, NOW)]
    assert expressions == ["Consent.organization", "Consent.dateTime"]


@pytest.mark.parametrize(
    "status", ["active", "inactive", "draft", "proposed", "rejected", "entered-in-error"]
)
def test_status_is_kept(status: str) -> None:
    assert read(privacy_consent({"type": "deny"}, status=status)).status == status


@pytest.mark.parametrize("status", [None, 1, ["active"]], ids=["missing", "number", "list"])
def test_status_missing_or_not_a_string_is_taken_as_active(status: Any) -> None:
    resource = privacy_consent({"type": "deny"}, status=status)
    if status is None:
        del resource["status"]
    assert read(resource).status == "active"


def test_status_missing_is_active_even_when_unreadable() -> None:
    resource = privacy_consent({"type": "deny"}, dateTime="yesterday")
    del resource["status"]
    statement = read(resource)
    assert statement.unreadable
    assert statement.status == "active"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-11-01T10:15:00Z", datetime(2026, 11, 1, 10, 15, tzinfo=UTC), id="utc"),
        pytest.param(
            "2026-07-01T00:30:00+01:00", datetime(2026, 6, 30, 23, 30, tzinfo=UTC), id="offset"
        ),
        pytest.param("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC), id="date-only-start"),
        pytest.param("2026-11", datetime(2026, 11, 1, tzinfo=UTC), id="month-start"),
    ],
)
def test_date_time_is_the_first_moment_it_names(value: str, expected: datetime) -> None:
    recorded = read(privacy_consent({"type": "deny"}, dateTime=value)).recorded
    assert recorded == expected
    assert recorded is not None
    assert recorded.utcoffset() == timedelta(0)


def test_date_time_missing_is_no_recorded_moment() -> None:
    resource = privacy_consent({"type": "deny"})
    del resource["dateTime"]
    statement = read(resource)
    assert not statement.unreadable
    assert statement.recorded is None


def test_a_privacy_consent_without_provision_is_read_without_one() -> None:
    statement = read(privacy_consent(None))
    assert statement.provision is None
    assert not statement.unreadable


# -- provisions ------------------------------------------------------------------------


def test_every_criterion_is_read() -> None:
    statement = read(
        privacy_consent(
            {
                "type": "permit",
                "period": {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
                "provision": [
                    {
                        "type": "deny",
                        "actor": [ods_actor("RZZ"), ods_actor("A81001")],
                        "purpose": [purpose("TREAT"), purpose("ETREAT")],
                        "period": {"start": "2026-03-01T09:00:00+00:00"},
                        "dataPeriod": {"end": "2026-02-28T17:00:00Z"},
                        "class": [
                            {"system": DATA_CATEGORY, "code": "risk-flag"},
                            {"system": RESOURCE_TYPES, "code": "Flag"},
                        ],
                        "securityLabel": [
                            {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"}
                        ],
                    }
                ],
            }
        )
    )

    assert statement.provision == Provision(
        type="permit",
        path="provision",
        period=Period(
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2027, 1, 1, 0, 0, 0, 999999, tzinfo=UTC),  # the end of that second
        ),
        provisions=(
            Provision(
                type="deny",
                path="provision.provision[0]",
                actors=frozenset({"RZZ", "A81001"}),
                purposes=frozenset({"TREAT", "ETREAT"}),
                period=Period(datetime(2026, 3, 1, 9, tzinfo=UTC), None),
                data_period=Period(None, datetime(2026, 2, 28, 17, 0, 0, 999999, tzinfo=UTC)),
                classes=frozenset({"risk-flag", "Flag"}),
                security_labels=frozenset({(CONFIDENTIALITY, "R")}),
            ),
        ),
    )


def test_nested_provisions_are_numbered_by_their_place() -> None:
    statement = read(
        privacy_consent(
            {
                "type": "deny",
                "provision": [
                    {"actor": [ods_actor("RZZ")]},
                    {
                        "type": "permit",
                        "actor": [ods_actor("RYY")],
                        "provision": [{"type": "deny"}, {"purpose": [purpose("TREAT")]}],
                    },
                ],
            }
        )
    )

    root = statement.provision
    assert root is not None
    first, second = root.provisions
    assert first.path == "provision.provision[0]"
    assert first.type is None
    assert second.path == "provision.provision[1]"
    assert [p.path for p in second.provisions] == [
        "provision.provision[1].provision[0]",
        "provision.provision[1].provision[1]",
    ]
    assert [p.type for p in second.provisions] == ["deny", None]


def test_a_root_provision_without_type_keeps_none() -> None:
    provision = read(privacy_consent({"actor": [ods_actor("RZZ")]})).provision
    assert provision is not None
    assert provision.type is None
    assert provision.actors == frozenset({"RZZ"})


@pytest.mark.parametrize(
    "actor",
    [
        pytest.param({"reference": {"reference": "Organization/rzz"}}, id="literal-reference"),
        pytest.param(
            {
                "reference": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/ods-site-code",
                        "value": "RZZ01",
                    }
                }
            },
            id="ods-site-code",
        ),
        pytest.param(
            {
                "reference": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/sds-user-id",
                        "value": "123456789012",
                    }
                }
            },
            id="practitioner",
        ),
        pytest.param(
            {"reference": {"identifier": {"system": ODS, "value": "rzz"}}}, id="invalid-ods-code"
        ),
        pytest.param({"reference": {"identifier": {"system": ODS}}}, id="ods-without-value"),
        pytest.param({"reference": {"display": "The crisis team"}}, id="display-only"),
        pytest.param({"role": {"text": "recipient"}}, id="no-reference"),
        pytest.param("RZZ", id="not-an-object"),
    ],
)
def test_an_actor_that_is_not_an_ods_organisation_is_unresolved(actor: Any) -> None:
    provision = read(
        privacy_consent({"type": "deny", "actor": [actor, ods_actor("RYY")]})
    ).provision
    assert provision is not None
    assert provision.unresolved_actor
    assert provision.actors == frozenset({"RYY"})


def test_ods_actors_alone_are_resolved() -> None:
    provision = read(privacy_consent({"type": "deny", "actor": [ods_actor("RZZ")]})).provision
    assert provision is not None
    assert not provision.unresolved_actor


def test_class_codes_of_resource_types_and_data_categories_are_read() -> None:
    provision = read(
        privacy_consent(
            {
                "type": "deny",
                "class": [
                    {"system": DATA_CATEGORY, "code": "escalation"},
                    {"system": RESOURCE_TYPES, "code": "Communication"},
                    {"system": DATA_CATEGORY, "display": "no code"},
                ],
            }
        )
    ).provision
    assert provision is not None
    assert provision.classes == frozenset({"escalation", "Communication"})


def test_security_label_without_system_is_read_with_an_empty_system() -> None:
    provision = read(
        privacy_consent(
            {"type": "deny", "securityLabel": [{"code": "R"}, {"system": CONFIDENTIALITY}]}
        )
    ).provision
    assert provision is not None
    assert provision.security_labels == frozenset({("", "R")})


def test_purpose_codings_without_code_are_skipped() -> None:
    provision = read(
        privacy_consent({"type": "deny", "purpose": [{"system": V3_ACT_REASON}, purpose("BTG")]})
    ).provision
    assert provision is not None
    assert provision.purposes == frozenset({"BTG"})


# -- periods ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        pytest.param(
            {"start": "2026-06-01", "end": "2026-06-30"},
            Period(
                datetime(2026, 6, 1, tzinfo=UTC),
                datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC),
            ),
            id="date-only-end-is-end-of-day",
        ),
        pytest.param(
            {"end": "2026-06"},
            Period(None, datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)),
            id="month-end-is-end-of-month",
        ),
        pytest.param(
            {"end": "2026"},
            Period(None, datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
            id="year-end-is-end-of-year",
        ),
        pytest.param(
            {"end": "2026-06-30T18:00:00+01:00"},
            Period(None, datetime(2026, 6, 30, 17, 0, 0, 999999, tzinfo=UTC)),
            id="seconds-end-is-end-of-that-second",
        ),
        pytest.param({}, Period(None, None), id="empty"),
    ],
)
def test_period_ends_are_the_last_moment_they_name(
    period: dict[str, str], expected: Period
) -> None:
    provision = read(
        privacy_consent({"type": "deny", "period": period, "dataPeriod": period})
    ).provision
    assert provision is not None
    assert provision.period == expected
    assert provision.data_period == expected


def test_date_only_end_covers_the_whole_last_day() -> None:
    provision = read(privacy_consent({"type": "deny", "period": {"end": "2026-11-30"}})).provision
    assert provision is not None
    assert provision.period is not None
    assert provision.period.contains(datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert not provision.period.contains(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param(
            privacy_consent({"type": "deny"}, dateTime="01/11/2026"), id="date-time-not-fhir"
        ),
        pytest.param(
            privacy_consent({"type": "deny"}, dateTime="2026-13-01"), id="date-time-month-13"
        ),
        pytest.param(privacy_consent({"type": "deny"}, dateTime=20261101), id="date-time-number"),
        pytest.param(
            privacy_consent({"type": "deny", "period": {"start": "soon"}}), id="period-start"
        ),
        pytest.param(
            privacy_consent({"type": "deny", "period": {"end": "2026-02-30"}}), id="period-end"
        ),
        pytest.param(
            privacy_consent({"type": "deny", "period": "2026-01-01/2026-02-01"}),
            id="period-not-an-object",
        ),
        pytest.param(
            privacy_consent({"type": "deny", "dataPeriod": {"start": "2026-1-1"}}),
            id="data-period-start",
        ),
        pytest.param(
            privacy_consent(
                {"type": "permit", "provision": [{"type": "deny", "dataPeriod": {"end": 2026}}]}
            ),
            id="nested-data-period-end",
        ),
        pytest.param(privacy_consent({"type": "maybe"}), id="unknown-type"),
        pytest.param(
            privacy_consent({"type": "permit", "provision": [{"type": "Deny"}]}),
            id="nested-type-wrong-case",
        ),
        pytest.param(privacy_consent([{"type": "deny"}]), id="provision-a-list"),
        pytest.param(
            privacy_consent({"type": "permit", "provision": ["deny"]}), id="nested-not-an-object"
        ),
    ],
)
def test_a_malformed_privacy_consent_is_unreadable(resource: dict[str, Any]) -> None:
    assert_unreadable(resource)


def test_reading_does_not_change_the_resource() -> None:
    resource = privacy_consent(
        {"type": "deny", "actor": [ods_actor("RZZ")], "provision": [{"type": "permit"}]}
    )
    before = copy.deepcopy(resource)
    read(resource)
    assert resource == before


# -- read, then decided ------------------------------------------------------------------

AGREEMENTS = (
    Agreement(
        "DSA-001",
        "1",
        frozenset({"AZZ", "RZZ", "RYY"}),
        frozenset({"direct-care"}),
        frozenset({"referral", "risk-flag"}),
        datetime(2026, 1, 1).date(),
        None,
        "active",
    ),
)


def sharing(
    recipient: str, category: str = "referral", resource_type: str = "ServiceRequest"
) -> SharingRequest:
    return SharingRequest(
        actor=recipient,
        actor_role="trust-crisis-system",
        purpose=Purpose.TREAT,
        action="read",
        category=category,  # type: ignore[arg-type]
        origin="AZZ",
        recipient=recipient,
        patient="9434765919",
        resource_type=resource_type,
    )


def test_a_dissent_from_one_trust_read_and_decided() -> None:
    statement = read(
        privacy_consent(
            {"type": "permit", "provision": [{"type": "deny", "actor": [ods_actor("RZZ")]}]}
        )
    )

    to_rzz = decide(sharing("RZZ"), [statement], AGREEMENTS, NOW)
    to_ryy = decide(sharing("RYY"), [statement], AGREEMENTS, NOW)

    assert not to_rzz.permitted
    assert to_rzz.reasons[0] == Reason(Rule.DISSENT, "Consent/c1 provision.provision[0]")
    assert to_ryy.permitted
    assert to_ryy.reasons[1] == Reason(Rule.CONSENT_PERMITS, "Consent/c1 provision")


def test_a_trusts_dissent_read_and_decided_governs_the_trusts_records_only() -> None:
    statement = read(
        privacy_consent(
            {"type": "deny"}, organization=[{"identifier": {"system": ODS, "value": "RZZ"}}]
        )
    )
    providers = decide(sharing("RYY"), [statement], AGREEMENTS, NOW)
    trusts = decide(dataclasses.replace(sharing("RYY"), origin="RZZ"), [statement], AGREEMENTS, NOW)

    assert providers.permitted
    assert providers.reasons[1] == Reason(Rule.IMPLIED_CONSENT)
    assert not trusts.permitted
    assert trusts.reasons[0] == Reason(Rule.DISSENT, "Consent/c1 provision")


def test_an_unreadable_consent_read_and_decided_fails_closed() -> None:
    statement = read(privacy_consent({"type": "permit"}, dateTime="not a date"))
    decision = decide(sharing("RZZ"), [statement], AGREEMENTS, NOW)
    assert not decision.permitted
    assert decision.reasons[0] == Reason(Rule.CONSENT_UNREADABLE, "Consent/c1")


def test_a_class_in_an_unknown_system_on_a_deny_still_restricts() -> None:
    """A class criterion the gateway cannot judge: the deny applies (restrict in doubt)."""
    statement = read(
        privacy_consent(
            {
                "type": "deny",
                "class": [{"system": "http://loinc.org", "code": "11488-4"}],
            }
        )
    )
    decision = decide(sharing("RZZ"), [statement], AGREEMENTS, NOW)
    assert not decision.permitted
    assert decision.rule is Rule.DISSENT


def test_a_class_in_an_unknown_system_does_not_widen_a_permit() -> None:
    """consent.statements: where a criterion cannot be judged, a permit does not match.

    The person permits RZZ only their consult notes (a LOINC document class); the gateway
    cannot tell which of its data those are, so the exception must not apply: the root
    dissent still denies RZZ a risk flag.
    """
    statement = read(
        privacy_consent(
            {
                "type": "deny",
                "provision": [
                    {
                        "type": "permit",
                        "actor": [ods_actor("RZZ")],
                        "class": [{"system": "http://loinc.org", "code": "11488-4"}],
                    }
                ],
            }
        )
    )

    decision = decide(sharing("RZZ", "risk-flag", "Flag"), [statement], AGREEMENTS, NOW)

    assert not decision.permitted, decision.reasons
    assert decision.reasons[0] == Reason(Rule.DISSENT, "Consent/c1 provision")


def test_period_offsets_are_compared_as_instants() -> None:
    statement = read(
        privacy_consent(
            {"type": "deny", "period": {"start": "2026-11-30T13:30:00+02:00"}}  # 11:30Z
        )
    )
    assert not decide(sharing("RZZ"), [statement], AGREEMENTS, NOW).permitted
    later = privacy_consent({"type": "deny", "period": {"start": "2026-11-30T12:30:00+00:00"}})
    assert decide(sharing("RZZ"), [read(later)], AGREEMENTS, NOW).permitted


def test_a_purpose_in_an_unknown_system_is_unresolved_not_dropped() -> None:
    statement = read(
        privacy_consent(
            {"type": "deny", "purpose": [{"system": "http://example.org/why", "code": "TREAT"}]}
        )
    )
    assert statement.provision is not None
    assert statement.provision.purposes == frozenset()
    assert statement.provision.unresolved_purpose is True


@pytest.mark.parametrize("element", ["actor", "purpose", "class", "provision"])
def test_a_repeating_element_that_is_not_a_list_cannot_be_read(element: str) -> None:
    assert_unreadable(privacy_consent({"type": "permit", element: {"not": "a list"}}))
