"""The person is always known: no fail-open on how the subject is written.

A security review wrote a dissented person's referral to the Trust five ways the gateway
did not recognise as that person (a `Patient/<id>` reference, `http://` for `https://`,
another identifier system, no system, a display alone) and each was shared as data about
"no patient", with no NHS number in the access log. Now a record about a person names
them by NHS number (as an identifier, or by a reference to a Patient stored here that
carries one), or by a local identifier in a system registered for an organisation party
to the record; anything else is refused (422 at the patient element, nothing stored, the
refusal in the access log), and a stored record whose person is not known is never shared.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from gateway.platform.database import Database
from gateway.platform.schema import audit_events, resource_versions, resources
from tests.access_log.reading import event_rules
from tests.builders import (
    NHS,
    OTHER_NHS_NUMBER,
    PATIENT_NHS_NUMBER,
    communication,
    nhs_identifier,
    ods_reference,
    patient,
    service_request,
)
from tests.sharing.test_enforcement import consent
from tests.tokens import PROVIDER, THIRD_ODS, THIRD_PROVIDER

FHIR = {"Content-Type": "application/fhir+json"}
# The local patient identifier system the test configuration registers for AZZ.
AZZ_LOCAL_SYSTEM = "https://example-recovery.example.org/Id/client-number"
NOT_ESTABLISHED = "identity:patient-not-established"
PATIENT_UNKNOWN = "default:patient-unknown"

# The ways the review wrote the dissented person's subject, and the element the refusal
# names. A reference to a Patient not stored here names nobody the gateway knows either.
UNKNOWN_SUBJECTS: dict[str, tuple[dict[str, Any], str]] = {
    "http-instead-of-https": (
        {"identifier": {"system": "http://fhir.nhs.uk/Id/nhs-number", "value": PATIENT_NHS_NUMBER}},
        "ServiceRequest.subject.identifier.system",
    ),
    "another-system": (
        {"identifier": {"system": "https://example.org/Id/mrn", "value": PATIENT_NHS_NUMBER}},
        "ServiceRequest.subject.identifier.system",
    ),
    "no-system": (
        {"identifier": {"value": PATIENT_NHS_NUMBER}},
        "ServiceRequest.subject.identifier.system",
    ),
    "display-only": ({"display": "Alex Example"}, "ServiceRequest.subject"),
    "patient-not-stored-here": (
        {"reference": "Patient/not-stored-here"},
        "ServiceRequest.subject.reference",
    ),
    "patient-on-another-server": (
        {"reference": "https://elsewhere.example.org/fhir/Patient/1"},
        "ServiceRequest.subject.reference",
    ),
}


def _post(client: TestClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return client.post(
        f"/fhir/{body['resourceType']}",
        content=json.dumps(body),
        headers={**FHIR, **(headers or {})},
    )


def _created(
    client: TestClient, body: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = _post(client, body, headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _stored(database: Database) -> int:
    """Resources besides the directory's Organizations."""
    with database.read() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(resources)
                .where(resources.c.resource_type != "Organization")
            ).scalar_one()
        )


def _events(database: Database, client_id: str, subtype: str, outcome: int) -> list[dict[str, Any]]:
    """One client's events of one interaction and outcome, read from the store itself."""
    with database.read() as connection:
        rows = connection.execute(
            select(audit_events.c.content)
            .where(
                audit_events.c.client_id == client_id,
                audit_events.c.subtype == subtype,
                audit_events.c.outcome == outcome,
            )
            .order_by(audit_events.c.seq)
        ).scalars()
        return [json.loads(row) for row in rows]


def _patients(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The people an AuditEvent names: (system, value) of each patient entity."""
    return [
        (entity["what"]["identifier"]["system"], entity["what"]["identifier"]["value"])
        for entity in event.get("entity", [])
        if entity.get("what", {}).get("type") == "Patient"
    ]


def _issue(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = body["issue"][0]
    return issue


def _dissent(client: TestClient, number: str = PATIENT_NHS_NUMBER) -> None:
    _created(client, consent(number))


# -- the five ways (and two more) of writing a subject nobody can be sure of ------------


@pytest.mark.parametrize("variant", list(UNKNOWN_SUBJECTS))
def test_a_subject_that_names_nobody_known_is_refused_at_that_element(
    client: TestClient, database: Database, variant: str
) -> None:
    subject, expression = UNKNOWN_SUBJECTS[variant]
    _dissent(client)
    before = _stored(database)

    response = _post(client, service_request(subject=subject))

    assert response.status_code == 422, response.text
    issue = _issue(response)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == [expression]
    assert PATIENT_NHS_NUMBER not in response.text
    assert _stored(database) == before
    (refusal,) = _events(database, PROVIDER, "create", 4)
    assert refusal["action"] == "C"
    assert event_rules(refusal) == [NOT_ESTABLISHED]
    assert _patients(refusal) == []  # nobody can be named from what names nobody


def test_an_update_naming_the_person_in_a_form_nobody_can_be_sure_of_is_refused(
    client: TestClient, database: Database
) -> None:
    """Refused at the element as on create; the refusal is in the access history of the
    person the record is about, and the record is unchanged."""
    referral = _created(client, service_request())
    subject, expression = UNKNOWN_SUBJECTS["http-instead-of-https"]
    changed = {**referral, "subject": subject}

    response = client.put(
        f"/fhir/ServiceRequest/{referral['id']}", content=json.dumps(changed), headers=FHIR
    )

    assert response.status_code == 422, response.text
    assert _issue(response)["expression"] == [expression]
    read = client.get(f"/fhir/ServiceRequest/{referral['id']}").json()
    assert read["meta"]["versionId"] == "1"
    assert read["subject"] == referral["subject"]
    (refusal,) = _events(database, PROVIDER, "update", 4)
    assert event_rules(refusal) == [NOT_ESTABLISHED]
    assert _patients(refusal) == [(NHS, PATIENT_NHS_NUMBER)]


def test_a_reference_to_a_patient_stored_here_is_that_person_and_their_dissent_applies(
    client: TestClient, database: Database
) -> None:
    person = _created(client, patient())
    _dissent(client)
    before = _stored(database)

    response = _post(client, service_request(subject={"reference": f"Patient/{person['id']}"}))

    assert response.status_code == 403, response.text
    assert "consent:dissent" in _issue(response)["diagnostics"]
    assert _stored(database) == before
    (refusal,) = _events(database, PROVIDER, "create", 4)
    assert _patients(refusal) == [(NHS, PATIENT_NHS_NUMBER)]
    assert event_rules(refusal) == ["consent:dissent"]


def test_a_record_written_by_reference_is_that_persons_in_the_log_and_in_searches(
    client: TestClient, database: Database, trust_token: dict[str, str]
) -> None:
    person = _created(client, patient(OTHER_NHS_NUMBER))
    referral = _created(client, service_request(subject={"reference": f"Patient/{person['id']}"}))

    read = client.get(f"/fhir/ServiceRequest/{referral['id']}", headers=trust_token)
    assert read.status_code == 200
    (event,) = [
        event
        for event in _events(database, "demo-trust-crisis", "read", 0)
        if any(
            e.get("what", {}).get("reference", "").startswith("ServiceRequest/")
            for e in event["entity"]
        )
    ]
    assert _patients(event) == [(NHS, OTHER_NHS_NUMBER)]
    found = client.get(
        "/fhir/ServiceRequest",
        params={"subject:identifier": f"{NHS}|{OTHER_NHS_NUMBER}"},
        headers=trust_token,
    )
    assert [entry["resource"]["id"] for entry in found.json().get("entry", [])] == [referral["id"]]


def test_a_reference_to_another_organisations_patient_is_not_one_stored_here(
    client: TestClient, database: Database, third_token: dict[str, str]
) -> None:
    """AXX cannot see AZZ's Patient, so for AXX it is not there (as a read would say)."""
    person = _created(client, patient())
    before = _stored(database)
    body = service_request(
        subject={"reference": f"Patient/{person['id']}"}, requester=ods_reference(THIRD_ODS)
    )

    response = _post(client, body, third_token)

    assert response.status_code == 422, response.text
    assert _issue(response)["expression"] == ["ServiceRequest.subject.reference"]
    assert _stored(database) == before
    (refusal,) = _events(database, THIRD_PROVIDER, "create", 4)
    assert event_rules(refusal) == [NOT_ESTABLISHED]


def test_a_record_whose_type_has_a_patient_must_name_one(
    client: TestClient, database: Database
) -> None:
    before = _stored(database)
    body = communication(recipient="Organization/rzz")
    del body["subject"]

    response = _post(client, body)

    assert response.status_code == 422, response.text
    assert _issue(response)["expression"] == ["Communication.subject"]
    assert _stored(database) == before


# -- local identifiers: the issuing organisation's own ---------------------------------


def test_a_local_identifier_in_another_organisations_system_is_refused(
    client: TestClient, database: Database, third_token: dict[str, str]
) -> None:
    before = _stored(database)
    body = service_request(
        subject={"identifier": {"system": AZZ_LOCAL_SYSTEM, "value": "C-000417"}},
        requester=ods_reference(THIRD_ODS),
    )

    response = _post(client, body, third_token)

    assert response.status_code == 422, response.text
    issue = _issue(response)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["ServiceRequest.subject.identifier.system"]
    assert "C-000417" not in response.text
    assert _stored(database) == before
    (refusal,) = _events(database, THIRD_PROVIDER, "create", 4)
    assert event_rules(refusal) == [NOT_ESTABLISHED]


def test_a_dissent_recorded_against_a_local_identifier_stops_that_persons_referral(
    client: TestClient, database: Database
) -> None:
    local = {"identifier": {"system": AZZ_LOCAL_SYSTEM, "value": "C-000417"}}
    _created(client, {**consent(), "patient": local})
    before = _stored(database)

    response = _post(client, service_request(subject=local))

    assert response.status_code == 403, response.text
    assert "consent:dissent" in _issue(response)["diagnostics"]
    assert _stored(database) == before
    (refusal,) = _events(database, PROVIDER, "create", 4)
    assert _patients(refusal) == [(AZZ_LOCAL_SYSTEM, "C-000417")]


# -- fail closed: a stored record whose person is not known is never shared --------------


def test_a_stored_record_whose_person_is_not_known_is_never_shared(
    client: TestClient, database: Database, trust_token: dict[str, str]
) -> None:
    """As a record stored before this rule, in a form it could not establish, is."""
    referral = _created(client, service_request())
    with database.write() as connection:
        for table in (resources, resource_versions):
            connection.execute(
                update(table).where(table.c.id == referral["id"]).values(patient=None)
            )
    path = f"/fhir/ServiceRequest/{referral['id']}"

    refused = client.get(path, headers=trust_token)

    assert refused.status_code == 403, refused.text
    assert PATIENT_UNKNOWN in _issue(refused)["diagnostics"]
    found = client.get("/fhir/ServiceRequest", params={"_total": "accurate"}, headers=trust_token)
    assert found.json().get("total") == 0
    assert client.get(path).status_code == 200  # its author still reads its own record
    (event,) = _events(database, "demo-trust-crisis", "read", 4)
    assert event_rules(event) == [PATIENT_UNKNOWN]


def _found(client: TestClient, headers: dict[str, str] | None = None, **params: str) -> set[str]:
    response = client.get("/fhir/ServiceRequest", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return {entry["resource"]["id"] for entry in response.json().get("entry", [])}


def test_a_search_by_the_patients_reference_finds_every_record_about_that_person(
    client: TestClient,
) -> None:
    """However a record named the person (the NHS number, or the Patient), a search by
    the Patient finds it: a Trust integrator holding the Patient must not miss a referral
    written with the NHS number alone."""
    person = _created(client, patient(OTHER_NHS_NUMBER))
    by_number = _created(
        client, service_request(subject={"identifier": nhs_identifier(OTHER_NHS_NUMBER)})
    )
    by_reference = _created(
        client, service_request(subject={"reference": f"Patient/{person['id']}"})
    )
    someone_else = _created(client, service_request())

    for param in ("subject", "patient"):
        found = _found(client, **{param: f"Patient/{person['id']}"})
        assert found == {by_number["id"], by_reference["id"]}
        assert someone_else["id"] not in found
    assert _found(client, subject=person["id"]) == {by_number["id"], by_reference["id"]}


def test_a_search_by_a_patient_the_caller_cannot_see_resolves_to_nobody(
    client: TestClient, third_token: dict[str, str]
) -> None:
    """AXX cannot see AZZ's Patient: searching by it finds none of AXX's own records
    about the same NHS number, so the search cannot be used to learn whom it names."""
    person = _created(client, patient(OTHER_NHS_NUMBER))
    own = _created(
        client,
        service_request(
            subject={"identifier": nhs_identifier(OTHER_NHS_NUMBER)},
            requester=ods_reference(THIRD_ODS),
        ),
        third_token,
    )

    assert _found(client, third_token, subject=f"Patient/{person['id']}") == set()
    assert _found(client, third_token, **{"subject:identifier": f"{NHS}|{OTHER_NHS_NUMBER}"}) == {
        own["id"]
    }
