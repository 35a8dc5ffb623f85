"""A consent statement is recorded by a data controller about its own records.

The third organisation (AXX, with its own agreement with the Trust and none with AZZ)
tries to override the provider's recorded dissent, to block the provider's crisis
handover with a dissent of its own, and to record a statement in the provider's name;
the provider tries to date a statement in the future; the Trust tries to withdraw the
provider's statement. Each is refused (or has no effect on another organisation's
records), nothing changes in the store, and each refusal is in the access log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.platform.database import Database
from gateway.platform.schema import audit_events, resources
from tests.access_log.reading import event_rules
from tests.builders import (
    PATIENT_NHS_NUMBER,
    TRUST_ODS,
    ods_reference,
    service_request,
)
from tests.handovers.test_routes import example, push
from tests.sharing.test_enforcement import consent
from tests.tokens import (
    PROVIDER,
    THIRD_ODS,
    THIRD_PROVIDER,
    TRUST,
    TRUST_SCOPES,
    access_token,
    bearer,
)

FHIR = {"Content-Type": "application/fhir+json"}


def _recorded(offset: timedelta = timedelta(hours=-1)) -> str:
    """A Consent.dateTime relative to the clock the served gateway runs on."""
    return (datetime.now(UTC) + offset).isoformat(timespec="seconds")


def statement(
    organisation: str, kind: str = "deny", *, offset: timedelta = timedelta(hours=-1)
) -> dict[str, Any]:
    """A privacy consent about the demo patient, recorded by `organisation`."""
    body = consent(provision={"type": kind}, recorded=_recorded(offset))
    body["organization"] = [ods_reference(organisation)]
    return body


def _post(client: TestClient, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post(f"/fhir/{body['resourceType']}", json=body, headers={**FHIR, **headers})


def _created(client: TestClient, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    response = _post(client, body, headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _consents(database: Database) -> int:
    with database.read() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(resources)
                .where(resources.c.resource_type == "Consent")
            ).scalar_one()
        )


def _refusals(database: Database, client_id: str, subtype: str) -> list[dict[str, Any]]:
    """The access log's refused events of one client, read from the store itself."""
    with database.read() as connection:
        rows = connection.execute(
            select(audit_events.c.content)
            .where(
                audit_events.c.client_id == client_id,
                audit_events.c.outcome == 4,
                audit_events.c.subtype == subtype,
            )
            .order_by(audit_events.c.seq)
        ).scalars()
        return [json.loads(row) for row in rows]


def _data(event: dict[str, Any]) -> list[str]:
    return [
        entity["what"]["reference"]
        for entity in event.get("entity", [])
        if "reference" in entity.get("what", {})
    ]


def _patients(event: dict[str, Any]) -> list[str]:
    return [
        entity["what"]["identifier"]["value"]
        for entity in event.get("entity", [])
        if entity.get("what", {}).get("identifier", {}).get("system", "").endswith("nhs-number")
    ]


def _issue(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = body["issue"][0]
    return issue


def _trust_recording_consent(client: TestClient) -> dict[str, str]:
    """The Trust's crisis system with the Consent scopes its registration allows."""
    return bearer(access_token(client, TRUST, f"{TRUST_SCOPES} system/Consent.cu"))


# -- (a) a third organisation cannot lift the provider's dissent ------------------------


def test_a_third_organisation_cannot_override_the_providers_dissent(
    client: TestClient,
    database: Database,
    third_token: dict[str, str],
    trust_token: dict[str, str],
) -> None:
    referral = _created(client, service_request(), {})
    path = f"/fhir/ServiceRequest/{referral['id']}"
    _created(client, statement("AZZ", offset=timedelta(hours=-2)), {})
    assert client.get(path, headers=trust_token).status_code == 403
    before = _consents(database)

    # In the provider's name: refused, nothing stored, the refusal logged.
    forged = _post(client, statement("AZZ", "permit"), third_token)
    assert forged.status_code == 403, forged.text
    assert _issue(forged)["code"] == "forbidden"
    assert _issue(forged)["expression"] == ["Consent.organization"]
    assert PATIENT_NHS_NUMBER not in forged.text
    assert _consents(database) == before
    (refusal,) = _refusals(database, THIRD_PROVIDER, "create")
    assert refusal["action"] == "C"
    assert event_rules(refusal) == ["access:forbidden"]

    # In its own name: accepted as AXX's statement about AXX's records, and so it says
    # nothing about the provider's referral: the Trust is still refused, on the
    # provider's dissent.
    _created(client, statement(THIRD_ODS, "permit"), third_token)
    still = client.get(path, headers=trust_token)
    assert still.status_code == 403
    assert "consent:dissent" in _issue(still)["diagnostics"]


# -- (b) a third organisation's dissent does not stop the provider's handover ------------


def test_a_third_organisations_dissent_does_not_stop_the_providers_crisis_handover(
    client: TestClient, third_token: dict[str, str], trust_token: dict[str, str]
) -> None:
    _created(client, statement(THIRD_ODS), third_token)

    pushed = push(client, example("handover-crisis"))
    assert pushed.status_code == 201, pushed.text
    request = pushed.json()["resources"]["ServiceRequest"]
    assert client.get(f"/fhir/{request}", headers=trust_token).status_code == 200

    # The dissent does govern AXX's own records: its referral to the Trust is refused.
    own = service_request(requester=ods_reference(THIRD_ODS))
    refused = _post(client, own, third_token)
    assert refused.status_code == 403, refused.text
    assert "consent:dissent" in _issue(refused)["diagnostics"]


# -- (c) a statement in another organisation's name ------------------------------------


def test_a_consent_naming_another_organisation_is_refused(
    client: TestClient, database: Database, third_token: dict[str, str]
) -> None:
    before = _consents(database)
    for organisations in ([ods_reference("AZZ")], [ods_reference(THIRD_ODS), ods_reference("AZZ")]):
        body = {**statement(THIRD_ODS), "organization": organisations}
        response = _post(client, body, third_token)
        assert response.status_code == 403, response.text
        assert _issue(response)["code"] == "forbidden"
        assert _issue(response)["expression"] == ["Consent.organization"]
    assert _consents(database) == before
    refusals = _refusals(database, THIRD_PROVIDER, "create")
    assert len(refusals) == 2
    assert all(event_rules(event) == ["access:forbidden"] for event in refusals)


# -- (d) a statement dated in the future ------------------------------------------------


def test_a_consent_dated_in_the_future_is_refused(
    client: TestClient, database: Database, trust_token: dict[str, str]
) -> None:
    referral = _created(client, service_request(), {})
    before = _consents(database)

    response = _post(client, statement("AZZ", offset=timedelta(days=1)), {})
    assert response.status_code == 422, response.text
    issue = _issue(response)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["Consent.dateTime"]
    assert _consents(database) == before
    (refusal,) = _refusals(database, PROVIDER, "create")
    assert refusal["action"] == "C"
    assert refusal["outcome"] == "4"
    path = f"/fhir/ServiceRequest/{referral['id']}"
    assert client.get(path, headers=trust_token).status_code == 200

    # A clock a minute ahead of the gateway's is within the tolerated skew.
    _created(client, statement("AZZ", offset=timedelta(minutes=1)), {})
    assert client.get(path, headers=trust_token).status_code == 403


# -- (e) the Trust cannot withdraw or take over the provider's statement ----------------


def test_the_trust_cannot_change_the_providers_consent(
    client: TestClient, database: Database, trust_token: dict[str, str]
) -> None:
    referral = _created(client, service_request(), {})
    body = statement("AZZ")
    # Named as a party (performer), so that the Trust can see it and try.
    body["performer"] = [ods_reference(TRUST_ODS)]
    dissent = _created(client, body, {})
    path = f"/fhir/Consent/{dissent['id']}"
    trust = _trust_recording_consent(client)
    assert client.get(path, headers=trust).status_code == 200

    withdrawn = {**dissent, "status": "inactive"}
    taken_over = {**dissent, "status": "inactive", "organization": [ods_reference(TRUST_ODS)]}
    for change in (withdrawn, taken_over):
        response = client.put(path, json=change, headers={**FHIR, **trust})
        assert response.status_code == 403, response.text
        # Refused by the rule for every record (only its origin writes new versions),
        # before the Consent's own custodian rule is reached.
        assert _issue(response)["code"] == "forbidden"

    stored = client.get(path).json()
    assert (stored["meta"]["versionId"], stored["status"]) == ("1", "active")
    referral_path = f"/fhir/ServiceRequest/{referral['id']}"
    assert client.get(referral_path, headers=trust_token).status_code == 403
    refusals = _refusals(database, TRUST, "update")
    assert len(refusals) == 2
    for event in refusals:
        assert event["action"] == "U"
        assert event_rules(event) == ["access:organisation-not-author"]
        assert _patients(event) == [PATIENT_NHS_NUMBER]
        assert f"Consent/{dissent['id']}" in " ".join(_data(event))


# -- docs/consent.md's worked example: a dissent given to the Trust ----------------------------


def test_a_dissent_given_to_the_trust_governs_the_trusts_records_only(
    client: TestClient, database: Database, trust_token: dict[str, str]
) -> None:
    pushed = push(client, example("handover-crisis"))
    assert pushed.status_code == 201, pushed.text
    request_id = pushed.json()["id"]
    answer = {
        "resourceType": "Task",
        "status": "accepted",
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{request_id}"},
        "owner": ods_reference(TRUST_ODS),
    }
    accepted = _created(client, answer, trust_token)
    task_path = f"/fhir/Task/{accepted['id']}"
    assert client.get(task_path).status_code == 200
    _created(client, statement(TRUST_ODS), _trust_recording_consent(client))

    # The provider's handover is the provider's record: the Trust still reads it.
    path = f"/fhir/ServiceRequest/{request_id}"
    assert client.get(path, headers=trust_token).status_code == 200
    # The Trust's records are no longer shared with the provider: neither the answer it
    # gave, nor its next one.
    hidden = client.get(task_path)
    assert hidden.status_code == 403
    assert "consent:dissent" in _issue(hidden)["diagnostics"]
    progressed = {**accepted, "status": "in-progress"}
    refused = client.put(task_path, json=progressed, headers={**FHIR, **trust_token})
    assert refused.status_code == 403, refused.text
    assert "consent:dissent" in _issue(refused)["diagnostics"]
    assert client.get(task_path, headers=trust_token).json()["meta"]["versionId"] == "1"
    (event,) = _refusals(database, TRUST, "update")
    assert event_rules(event) == ["consent:dissent"]
