"""Who may record a Consent, decided on values: the client's role and scopes, the
organisation the Consent names, the one the stored version names, and its date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent.model import CONSENT_RECORDING_ROLES
from core.access_log.event import EventKind
from core.codes.audit import Subtype
from gateway.access_log.trail import AccessTrail
from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction, ScopeSet
from gateway.fhir.store import Party
from gateway.platform.errors import Forbidden, InvalidContent
from gateway.sharing.consent_authors import (
    NOT_CUSTODIAN,
    ROLE_MAY_NOT_RECORD,
    check_consent_record,
    may_record_consent,
)
from tests.builders import PATIENT_NHS_NUMBER, nhs_identifier, ods_reference

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _caller(role: str | None, scopes: str = "system/Consent.cru", ods: str = "AZZ") -> Caller:
    return Caller(
        client_id=f"test-{role}",
        ods_code=ods,
        role=role,
        scopes=ScopeSet.parse(scopes.split()),
        purpose_of_use="direct-care",
    )


def _consent(recorded: datetime = NOW - timedelta(hours=1)) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "patient": {"identifier": nhs_identifier()},
        "dateTime": recorded.isoformat(),
        "organization": [ods_reference("AZZ")],
        "provision": {"type": "deny"},
    }


def _custodian(ods: str) -> list[Party]:
    return [Party(ods, "custodian")]


def _trail() -> AccessTrail:
    return AccessTrail(EventKind.REST, Subtype.CREATE, "C")


def test_only_care_systems_with_the_consent_scope_record_consent() -> None:
    assert sorted(CONSENT_RECORDING_ROLES) == ["provider-epr", "trust-crisis-system"]
    for role in ("provider-epr", "trust-crisis-system"):
        assert may_record_consent(_caller(role), Interaction.CREATE)
        assert may_record_consent(_caller(role), Interaction.UPDATE)
        assert not may_record_consent(_caller(role, "system/Consent.rs"), Interaction.CREATE)
    for role in ("ig-lead", "operator", None):
        assert not may_record_consent(_caller(role, "system/*.cruds"), Interaction.CREATE)


@pytest.mark.parametrize("role", ["ig-lead", "operator", None])
def test_another_role_is_refused_whatever_its_scopes(role: str | None) -> None:
    trail = _trail()
    with pytest.raises(Forbidden):
        check_consent_record(
            _caller(role, "system/*.cruds"),
            _consent(),
            _custodian("AZZ"),
            patient=PATIENT_NHS_NUMBER,
            previous=None,
            now=NOW,
            trail=trail,
        )
    assert trail.decision is not None
    assert trail.decision.rule == ROLE_MAY_NOT_RECORD
    assert trail.patients == [PATIENT_NHS_NUMBER]


def test_the_custodian_records_and_changes_its_own_consent() -> None:
    caller = _caller("provider-epr")
    for previous in (None, _custodian("AZZ")):
        check_consent_record(
            caller,
            _consent(),
            _custodian("AZZ"),
            patient=PATIENT_NHS_NUMBER,
            previous=previous,
            now=NOW,
            trail=None,
        )


@pytest.mark.parametrize(
    ("parties", "previous"),
    [
        pytest.param(_custodian("RZZ"), None, id="create-naming-another"),
        pytest.param([], None, id="create-naming-none-resolved"),
        pytest.param(_custodian("AZZ") + _custodian("RZZ"), None, id="create-naming-two"),
        pytest.param(_custodian("AZZ"), _custodian("RZZ"), id="update-of-anothers"),
        pytest.param(_custodian("RZZ"), _custodian("RZZ"), id="update-keeping-anothers"),
    ],
)
def test_another_organisations_consent_is_refused(
    parties: list[Party], previous: list[Party] | None
) -> None:
    trail = _trail()
    with pytest.raises(Forbidden) as refused:
        check_consent_record(
            _caller("trust-crisis-system", ods="AZZ"),
            _consent(),
            parties,
            patient=PATIENT_NHS_NUMBER,
            previous=previous,
            now=NOW,
            trail=trail,
            resource_id=None if previous is None else "c1",
        )
    assert refused.value.expression == "Consent.organization"
    assert trail.decision is not None
    assert trail.decision.rule == NOT_CUSTODIAN


def test_a_future_date_is_refused_even_when_the_gateway_writes() -> None:
    for caller in (_caller("provider-epr"), None):
        with pytest.raises(InvalidContent) as refused:
            check_consent_record(
                caller,
                _consent(NOW + timedelta(minutes=6)),
                _custodian("AZZ"),
                patient=PATIENT_NHS_NUMBER,
                previous=None,
                now=NOW,
                trail=None,
            )
        assert refused.value.status == 422
        assert [issue.expression for issue in refused.value.issues] == ["Consent.dateTime"]
    # Within the tolerated skew of a recording system's clock.
    check_consent_record(
        None,
        _consent(NOW + timedelta(minutes=5)),
        [],
        patient=PATIENT_NHS_NUMBER,
        previous=None,
        now=NOW,
        trail=None,
    )
