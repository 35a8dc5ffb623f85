"""Consent and data-sharing agreements, enforced through the real application on both
databases: reads, searches (totals and paging included), _include, writes, purposes of
use, break-glass, and what the access log records of each decision."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.platform.database import Database
from gateway.platform.schema import resources
from tests.builders import (
    OTHER_NHS_NUMBER,
    PATIENT_NHS_NUMBER,
    communication,
    nhs_identifier,
    ods_reference,
    service_request,
)
from tests.fhir_judge import assert_valid_fhir
from tests.tokens import TRUST, access_token, bearer

FHIR = {"Content-Type": "application/fhir+json"}
PRIVACY = "http://terminology.hl7.org/CodeSystem/consentscope"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
DEMO_AGREEMENT = "DSA-DEMO-NORTH-001 v1"
REDACTED_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"


def consent(
    number: str = PATIENT_NHS_NUMBER,
    provision: dict[str, Any] | None = None,
    *,
    status: str = "active",
    recorded: str = "2026-11-25T09:00:00Z",
) -> dict[str, Any]:
    """A UK Core shaped privacy consent recorded by the provider: dissent by default."""
    return {
        "resourceType": "Consent",
        "status": status,
        "scope": {"coding": [{"system": PRIVACY, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"identifier": nhs_identifier(number)},
        "dateTime": recorded,
        "organization": [ods_reference()],
        "provision": provision or {"type": "deny"},
    }


def _create(client: TestClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post(f"/fhir/{body['resourceType']}", json=body, headers={**FHIR, **headers})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _search(client: TestClient, path: str, headers: dict[str, str]) -> list[str]:
    """Every id a search returns, following next links."""
    ids: list[str] = []
    response = client.get(path, headers=headers)
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        ids += [entry["resource"]["id"] for entry in bundle.get("entry", [])]
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            return ids
        response = client.get(following[0], headers=headers)


def _diagnostics(response: Any) -> str:
    return str(response.json()["issue"][0]["diagnostics"])


def _events(client: TestClient, ig: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get("/fhir/AuditEvent", params={"_count": "100", **params}, headers=ig)
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def _decisions(event: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [
        (entity["name"], entity.get("description"))
        for entity in event.get("entity", [])
        if "name" in entity
    ]


def _rows(database: Database) -> int:
    with database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(resources)).scalar_one())


# --- reads -----------------------------------------------------------------------------


def test_a_trust_cannot_read_a_referral_after_dissent_and_can_after_withdrawal(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    referral = _create(client, service_request())
    path = f"/fhir/ServiceRequest/{referral['id']}"
    assert client.get(path, headers=trust_token).status_code == 200

    dissent = _create(client, consent())
    refused = client.get(path, headers=trust_token)
    assert refused.status_code == 403
    assert refused.json()["issue"][0]["code"] == "forbidden"
    assert "consent:dissent" in _diagnostics(refused)
    assert PATIENT_NHS_NUMBER not in refused.text
    # The provider's own record is not a sharing: it still reads it.
    assert client.get(path).status_code == 200

    withdrawn = {**dissent, "status": "inactive"}
    updated = client.put(f"/fhir/Consent/{dissent['id']}", json=withdrawn, headers=FHIR)
    assert updated.status_code == 200, updated.text
    assert client.get(path, headers=trust_token).status_code == 200


def test_a_newer_permit_replaces_an_older_dissent(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    referral = _create(client, service_request())
    path = f"/fhir/ServiceRequest/{referral['id']}"
    _create(client, consent(recorded="2026-11-01T09:00:00Z"))
    assert client.get(path, headers=trust_token).status_code == 403
    _create(client, consent(provision={"type": "permit"}, recorded="2026-11-28T09:00:00Z"))
    assert client.get(path, headers=trust_token).status_code == 200


def test_a_draft_consent_changes_nothing(client: TestClient, trust_token: dict[str, str]) -> None:
    referral = _create(client, service_request())
    _create(client, consent(status="draft"))
    response = client.get(f"/fhir/ServiceRequest/{referral['id']}", headers=trust_token)
    assert response.status_code == 200


def test_vread_and_history_follow_the_decision_on_the_current_version(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    referral = _create(client, service_request())
    path = f"/fhir/ServiceRequest/{referral['id']}"
    _create(client, consent())
    assert client.get(f"{path}/_history/1", headers=trust_token).status_code == 403
    assert client.get(f"{path}/_history", headers=trust_token).status_code == 403


# --- searches ----------------------------------------------------------------------------


def test_search_neither_returns_nor_counts_nor_pages_over_what_dissent_hides(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    shown = [_create(client, service_request())["id"] for _ in range(3)]
    hidden = [_create(client, service_request(OTHER_NHS_NUMBER))["id"] for _ in range(3)]
    _create(client, consent(OTHER_NHS_NUMBER))

    bundle = client.get("/fhir/ServiceRequest?_count=2&_total=accurate", headers=trust_token).json()
    assert bundle["total"] == 3
    found = _search(client, "/fhir/ServiceRequest?_count=2", trust_token)
    assert sorted(found) == sorted(shown)
    assert not set(found) & set(hidden)
    # The provider, whose records they are, still finds all six.
    assert len(_search(client, "/fhir/ServiceRequest?_count=4", {})) == 6


def test_an_included_resource_is_decided_like_any_other(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    referral = _create(client, service_request())
    escalation = _create(
        client,
        {
            **communication(),
            "recipient": [ods_reference("RZZ")],
            "basedOn": [{"reference": f"ServiceRequest/{referral['id']}"}],
        },
    )
    # Dissent from sharing referrals (ServiceRequest) only: the escalation still flows.
    only_referrals = {
        "type": "deny",
        "class": [{"system": RESOURCE_TYPES, "code": "ServiceRequest"}],
    }
    _create(client, consent(provision=only_referrals))
    bundle = client.get(
        "/fhir/Communication?_include=Communication:based-on", headers=trust_token
    ).json()
    returned = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]}
    assert ("Communication", escalation["id"]) in returned
    assert ("ServiceRequest", referral["id"]) not in returned


# --- writes ----------------------------------------------------------------------------


def test_a_push_with_no_agreement_is_refused_and_nothing_is_stored(
    client: TestClient, database: Database, ig_token: dict[str, str]
) -> None:
    before = _rows(database)
    body = service_request(performer=[ods_reference("RQQ")])
    response = client.post("/fhir/ServiceRequest", json=body, headers=FHIR)
    assert response.status_code == 403
    assert "agreement:none" in _diagnostics(response)
    assert _rows(database) == before
    refused = [
        e
        for e in _events(
            client, ig_token, patient=f"{nhs_identifier()['system']}|{PATIENT_NHS_NUMBER}"
        )
        if e["outcome"] == "4"
    ]
    assert any(("agreement:none", None) in _decisions(e) for e in refused)


def test_a_push_against_dissent_is_refused_unless_safeguarding_is_justified(
    client: TestClient, database: Database, ig_token: dict[str, str]
) -> None:
    _create(client, consent())
    before = _rows(database)
    refused = client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
    assert refused.status_code == 403
    assert "consent:dissent" in _diagnostics(refused)
    unjustified = client.post(
        "/fhir/ServiceRequest",
        json=service_request(),
        headers={**FHIR, "X-Purpose-Of-Use": "safeguarding"},
    )
    assert unjustified.status_code == 403
    assert "override:justification-missing" in _diagnostics(unjustified)
    assert _rows(database) == before

    why = "Disclosed risk to a child at home; duty to protect (ref SG-1)."
    created = _create(
        client,
        service_request(),
        **{"X-Purpose-Of-Use": "safeguarding", "X-Break-Glass-Justification": why},
    )
    alerts = _events(client, ig_token, subtype="110127")
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["type"]["code"] == "110113"  # DICOM Security Alert
    references = [
        e["what"]["reference"] for e in alert["entity"] if "reference" in e.get("what", {})
    ]
    assert f"ServiceRequest/{created['id']}/_history/1" in references
    (rule, detail), *_ = _decisions(alert)
    assert rule == "override:dissent-overridden"
    assert detail is not None
    assert why in detail
    assert "consent:dissent" in detail


def test_a_consent_that_cannot_be_applied_is_refused(client: TestClient) -> None:
    nameless = consent()
    nameless["patient"] = {"reference": "Patient/somewhere"}  # no Patient stored here
    response = client.post("/fhir/Consent", json=nameless, headers=FHIR)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Consent.patient.reference"]
    no_rule = consent(provision={"period": {"start": "2026-01-01"}})
    response = client.post("/fhir/Consent", json=no_rule, headers=FHIR)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Consent.provision.type"]


# --- purposes of use and break-glass ------------------------------------------------------


def test_a_purpose_the_client_is_not_registered_for_is_refused(client: TestClient) -> None:
    response = client.get("/fhir/ServiceRequest", headers={"X-Purpose-Of-Use": "BTG"})
    assert response.status_code == 403
    assert response.json()["issue"][0]["expression"] == ["X-Purpose-Of-Use"]
    unknown = client.get("/fhir/ServiceRequest", headers={"X-Purpose-Of-Use": "HOLIDAY"})
    assert unknown.status_code == 400
    assert "HOLIDAY" not in unknown.text


def test_break_glass_lets_a_crisis_team_read_and_is_listed_for_review(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    referral = _create(client, service_request())
    _create(client, consent())
    path = f"/fhir/ServiceRequest/{referral['id']}"
    no_reason = client.get(path, headers={**trust_token, "X-Purpose-Of-Use": "BTG"})
    assert no_reason.status_code == 403
    assert "override:justification-missing" in _diagnostics(no_reason)
    headers = {
        **trust_token,
        "X-Purpose-Of-Use": "BTG",
        # Percent-encoded UTF-8 carries text outside ASCII.
        "X-Break-Glass-Justification": "Crisis%20call%3A%20imminent%20risk%20%E2%80%93%20A%26E",
    }
    assert client.get(path, headers=headers).status_code == 200
    alerts = _events(client, ig_token, subtype="110127")
    assert len(alerts) == 1
    (_, detail), *_ = _decisions(alerts[0])
    assert detail is not None
    assert "Crisis call: imminent risk \u2013 A&E" in detail
    purposes = {c["code"] for p in alerts[0]["purposeOfEvent"] for c in p["coding"]}
    assert purposes == {"direct-care", "BTG"}


def test_permitted_sharing_names_its_agreement_in_the_access_log(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    referral = _create(client, service_request())
    assert (
        client.get(f"/fhir/ServiceRequest/{referral['id']}", headers=trust_token).status_code == 200
    )
    reads = [e for e in _events(client, ig_token, subtype="read") if e["outcome"] == "0"]
    assert reads
    assert ("agreement:permits", DEMO_AGREEMENT) in _decisions(reads[0])


def test_a_refused_read_names_the_deciding_provision_in_the_access_log(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    referral = _create(client, service_request())
    dissent = _create(client, consent())
    client.get(f"/fhir/ServiceRequest/{referral['id']}", headers=trust_token)
    refused = [e for e in _events(client, ig_token, subtype="read") if e["outcome"] == "4"]
    assert len(refused) == 1
    assert _decisions(refused[0]) == [("consent:dissent", f"Consent/{dissent['id']} provision")]


# --- the agreements registry ----------------------------------------------------------------


def test_agreements_are_listed_to_their_parties(
    client: TestClient, trust_token: dict[str, str], anonymous: TestClient
) -> None:
    provider = client.get("/api/agreements").json()
    assert {a["id"] for a in provider["agreements"]} == {
        "DSA-DEMO-NORTH-001",
        "DSA-TEST-OTHER-TRUSTS",
    }
    trust = client.get("/api/agreements", headers=trust_token).json()
    by_id = {a["id"]: a for a in trust["agreements"]}
    # The Trust's agreements with AZZ and with the third provider, never AZZ's with others.
    assert set(by_id) == {"DSA-DEMO-NORTH-001", "DSA-TEST-THIRD-PROVIDER"}
    north = by_id["DSA-DEMO-NORTH-001"]
    assert north["in_force"] is True
    assert north["purposes"] == ["direct-care", "safeguarding"]
    assert {p["ods"] for p in north["parties"]} == {"AZZ", "RZZ"}
    assert trust["warnings"] == []
    del anonymous.headers["Authorization"]
    assert anonymous.get("/api/agreements").status_code == 401


@pytest.mark.parametrize("purpose", ["TREAT", "safeguarding"])
def test_the_provider_may_name_its_registered_purposes(client: TestClient, purpose: str) -> None:
    # TREAT is its default purpose (direct care) named explicitly; safeguarding is listed.
    response = client.get("/fhir/ServiceRequest", headers={"X-Purpose-Of-Use": purpose})
    assert response.status_code == 200


def test_a_consent_is_recorded_and_read_by_its_parties_whatever_it_says(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    # Recording a person's wishes is never blocked by those wishes, even where the Trust
    # they dissent from sharing with is named on the statement itself.
    body = consent()
    body["performer"] = [ods_reference("RZZ")]
    dissent = _create(client, body)
    response = client.get(f"/fhir/Consent/{dissent['id']}", headers=trust_token)
    assert response.status_code == 200
    assert response.json()["provision"] == {"type": "deny"}


def test_an_agreement_can_withhold_free_text(withholding: TestClient) -> None:
    provider = bearer(access_token(withholding))
    trust = bearer(access_token(withholding, TRUST))
    body = service_request(note=[{"text": "Lives with partner; history of overdose"}])
    body["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
    }
    created = withholding.post("/fhir/ServiceRequest", json=body, headers={**FHIR, **provider})
    assert created.status_code == 201, created.text
    path = f"/fhir/ServiceRequest/{created.json()['id']}"

    shared = withholding.get(path, headers=trust).json()
    assert "note" not in shared
    assert "text" not in shared
    assert {"system": REDACTED_SYSTEM, "code": "REDACTED", "display": "redacted"} in shared["meta"][
        "security"
    ]
    assert shared["subject"] == body["subject"]
    assert_valid_fhir(shared)
    # Its own organisation sees everything it wrote.
    own = withholding.get(path, headers=provider).json()
    assert own["note"] == body["note"]
    assert "security" not in own["meta"]
