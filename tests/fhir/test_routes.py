"""Create, read, vread, update, history and conditional create through the real app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import ODS, PATIENT_NHS_NUMBER, patient, service_request

FHIR = {"Content-Type": "application/fhir+json"}


def _create(client: TestClient, body: dict[str, object], **headers: str) -> dict[str, object]:
    response = client.post(f"/fhir/{body['resourceType']}", json=body, headers=FHIR | headers)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_create_assigns_id_and_version_and_says_where_it_lives(client: TestClient) -> None:
    body = service_request(id="client-chosen", meta={"versionId": "7", "tag": [{"code": "t"}]})
    response = client.post("/fhir/ServiceRequest", json=body, headers=FHIR)

    assert response.status_code == 201
    created = response.json()
    assert created["id"] != "client-chosen"
    assert created["meta"]["versionId"] == "1"
    assert created["meta"]["tag"] == [{"code": "t"}]
    assert created["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Location"] == (
        f"http://testserver/fhir/ServiceRequest/{created['id']}/_history/1"
    )
    assert "GMT" in response.headers["Last-Modified"]
    assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"


def test_read_returns_what_was_created(client: TestClient) -> None:
    created = _create(client, service_request())
    response = client.get(f"/fhir/ServiceRequest/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["ETag"] == 'W/"1"'


def test_read_of_an_unknown_id_is_404_without_repeating_it(client: TestClient) -> None:
    response = client.get(f"/fhir/ServiceRequest/{PATIENT_NHS_NUMBER}")
    assert response.status_code == 404
    assert response.json()["issue"][0]["code"] == "not-found"
    assert PATIENT_NHS_NUMBER not in response.text


def test_update_makes_a_new_version_and_keeps_the_old_one(client: TestClient) -> None:
    created = _create(client, service_request())
    changed = {**created, "status": "completed"}

    response = client.put(
        f"/fhir/ServiceRequest/{created['id']}", json=changed, headers=FHIR | {"If-Match": 'W/"1"'}
    )

    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    assert response.json()["status"] == "completed"
    assert response.headers["ETag"] == 'W/"2"'
    first = client.get(f"/fhir/ServiceRequest/{created['id']}/_history/1").json()
    second = client.get(f"/fhir/ServiceRequest/{created['id']}/_history/2").json()
    assert first["status"] == "active"
    assert second["status"] == "completed"
    assert client.get(f"/fhir/ServiceRequest/{created['id']}/_history/3").status_code == 404


def test_update_with_a_stale_if_match_is_refused_and_changes_nothing(client: TestClient) -> None:
    created = _create(client, service_request())
    client.put(f"/fhir/ServiceRequest/{created['id']}", json=created, headers=FHIR)

    response = client.put(
        f"/fhir/ServiceRequest/{created['id']}",
        json={**created, "status": "revoked"},
        headers=FHIR | {"If-Match": 'W/"1"'},
    )

    assert response.status_code == 412
    assert response.json()["issue"][0]["code"] == "conflict"
    current = client.get(f"/fhir/ServiceRequest/{created['id']}").json()
    assert current["meta"]["versionId"] == "2"
    assert current["status"] == "active"


def test_history_lists_versions_newest_first_and_pages(client: TestClient) -> None:
    created = _create(client, service_request())
    for status in ("on-hold", "active", "completed"):
        client.put(
            f"/fhir/ServiceRequest/{created['id']}",
            json={**created, "status": status},
            headers=FHIR,
        )

    page = client.get(f"/fhir/ServiceRequest/{created['id']}/_history?_count=3").json()

    assert page["type"] == "history"
    assert page["total"] == 4
    assert [e["resource"]["meta"]["versionId"] for e in page["entry"]] == ["4", "3", "2"]
    assert page["entry"][-1]["request"] == {
        "method": "PUT",
        "url": f"ServiceRequest/{created['id']}",
    }
    next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
    rest = client.get(next_url).json()
    assert [e["resource"]["meta"]["versionId"] for e in rest["entry"]] == ["1"]
    assert rest["entry"][0]["request"]["method"] == "POST"
    assert not [link for link in rest["link"] if link["relation"] == "next"]


def test_conditional_create_creates_once_then_returns_the_existing_one(client: TestClient) -> None:
    condition = {
        "If-None-Exist": f"identifier=https://fhir.nhs.uk/Id/nhs-number|{PATIENT_NHS_NUMBER}"
    }
    first = client.post("/fhir/Patient", json=patient(), headers=FHIR | condition)
    second = client.post("/fhir/Patient", json=patient(), headers=FHIR | condition)

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    search = client.get(f"/fhir/Patient?identifier={PATIENT_NHS_NUMBER}").json()
    assert search["total"] == 1


def test_conditional_create_matching_several_is_412(client: TestClient) -> None:
    _create(client, patient())
    _create(client, patient())
    response = client.post(
        "/fhir/Patient",
        json=patient(),
        headers=FHIR | {"If-None-Exist": f"identifier={PATIENT_NHS_NUMBER}"},
    )
    assert response.status_code == 412
    assert response.json()["issue"][0]["code"] == "multiple-matches"


def test_conditional_create_with_an_unusable_condition_is_400(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient", json=patient(), headers=FHIR | {"If-None-Exist": "nonsense=1"}
    )
    assert response.status_code == 400
    response = client.post(
        "/fhir/Patient", json=patient(), headers=FHIR | {"If-None-Exist": "_count=1"}
    )
    assert response.status_code == 400


def test_prefer_return_minimal_sends_no_body(client: TestClient) -> None:
    response = client.post(
        "/fhir/ServiceRequest", json=service_request(), headers=FHIR | {"Prefer": "return=minimal"}
    )
    assert response.status_code == 201
    assert response.content == b""
    assert "/_history/1" in response.headers["Location"]


def test_prefer_return_operation_outcome(client: TestClient) -> None:
    response = client.post(
        "/fhir/ServiceRequest",
        json=service_request(),
        headers=FHIR | {"Prefer": "return=OperationOutcome"},
    )
    assert response.status_code == 201
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "information"


def test_application_json_is_accepted_as_well_as_fhir_json(client: TestClient) -> None:
    response = client.post(
        "/fhir/ServiceRequest",
        json=service_request(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def test_configured_organisations_are_loaded_as_organization_resources(client: TestClient) -> None:
    bundle = client.get(f"/fhir/Organization?identifier={ODS}|RZZ").json()
    assert bundle["total"] == 1
    assert bundle["entry"][0]["resource"]["name"] == "Example Mental Health NHS Foundation Trust"
