"""The directory is configuration, not data: Organization resources come from
organisations.yaml alone. Over the API they are read and searched, never written: create,
update, delete, their conditional forms, PATCH and a transaction all answer 405 with an
OperationOutcome, change nothing, and are in the access log. Start-up never fails on an
Organization row a client could have written before this rule (it retires it)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.search.query import PagingLimits
from gateway.app import create_app
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database
from gateway.platform.schema import resource_versions, resources
from gateway.platform.settings import Settings
from tests.builders import ODS, TRUST_ODS
from tests.tokens import THIRD_ODS, access_token, bearer

FHIR = {"Content-Type": "application/fhir+json"}
TRUST_NAME = "Example Mental Health NHS Foundation Trust"


def _organisations(database: Database) -> list[tuple[str, int, str]]:
    """Every Organization row (id, version, content): what a refusal must not change."""
    with database.read() as connection:
        rows = connection.execute(
            select(resources.c.id, resources.c.version_id, resources.c.content)
            .where(resources.c.resource_type == "Organization")
            .order_by(resources.c.id)
        )
        return [(row.id, row.version_id, row.content) for row in rows]


def _by_ods(client: TestClient, code: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    params = {"identifier": f"{ODS}|{code}"}
    bundle = client.get("/fhir/Organization", params=params, headers=headers)
    assert bundle.status_code == 200, bundle.text
    return [entry["resource"] for entry in bundle.json().get("entry", [])]


def _trust(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    (found,) = _by_ods(client, TRUST_ODS, headers)
    return found


def _refused_events(
    client: TestClient, ig: dict[str, str], subtype: str, agent: str
) -> list[dict[str, Any]]:
    response = client.get(
        "/fhir/AuditEvent",
        params={"subtype": subtype, "outcome": "4", "agent": agent, "_count": "100"},
        headers=ig,
    )
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def _assert_not_allowed(response: Any, allowed: str) -> None:
    assert response.status_code == 405, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-supported"
    assert response.headers["Allow"] == allowed


def _entities(event: dict[str, Any]) -> list[str]:
    named = [entity.get("what", {}) for entity in event.get("entity", [])]
    return [what["reference"] for what in named if "reference" in what]


# --- over the API, read-only --------------------------------------------------------------


def test_the_third_organisation_cannot_rename_the_trust_or_take_its_identifier(
    anonymous: TestClient,
    database: Database,
    third_token: dict[str, str],
    ig_token: dict[str, str],
) -> None:
    trust = _trust(anonymous, third_token)
    before = _organisations(database)
    renamed = {**trust, "name": "Third Provider (formerly the Trust)"}
    taken = {**trust, "identifier": [{"system": ODS, "value": THIRD_ODS}]}

    for body in (renamed, taken):
        response = anonymous.put(
            f"/fhir/Organization/{trust['id']}",
            content=json.dumps(body),
            headers={**FHIR, **third_token},
        )
        _assert_not_allowed(response, "GET")
        assert "organisations.yaml" in response.json()["issue"][0]["diagnostics"]

    assert _organisations(database) == before
    assert _trust(anonymous, third_token)["name"] == TRUST_NAME
    refused = _refused_events(anonymous, ig_token, "update", "test-third-provider")
    assert len(refused) == 2
    assert all(f"Organization/{trust['id']}" in _entities(event) for event in refused)


def test_a_new_organization_with_an_existing_ods_code_is_refused(
    anonymous: TestClient,
    database: Database,
    third_token: dict[str, str],
    ig_token: dict[str, str],
) -> None:
    before = _organisations(database)
    impostor = {
        "resourceType": "Organization",
        "identifier": [{"system": ODS, "value": TRUST_ODS}],
        "name": "Not the Trust",
    }
    plain = anonymous.post("/fhir/Organization", json=impostor, headers={**FHIR, **third_token})
    conditional = anonymous.post(
        "/fhir/Organization",
        json=impostor,
        headers={**FHIR, **third_token, "If-None-Exist": f"identifier={ODS}|ZZZ"},
    )

    for response in (plain, conditional):
        _assert_not_allowed(response, "GET")
    assert _organisations(database) == before
    assert len(_refused_events(anonymous, ig_token, "create", "test-third-provider")) == 2


@pytest.mark.parametrize(
    ("method", "path", "allowed", "subtype"),
    [
        ("DELETE", "/fhir/Organization/{id}", "GET", "delete"),
        ("PATCH", "/fhir/Organization/{id}", "GET", "patch"),
        # Conditional update and delete name the resource by search, at the type's URL.
        ("PUT", f"/fhir/Organization?identifier={ODS}|{TRUST_ODS}", "GET", "update"),
        ("DELETE", f"/fhir/Organization?identifier={ODS}|{TRUST_ODS}", "GET", "delete"),
        # A transaction (or batch) Bundle is not taken at all.
        ("POST", "/fhir", "", "transaction"),
    ],
    ids=["delete", "patch", "conditional-update", "conditional-delete", "transaction"],
)
def test_every_other_way_of_writing_the_directory_is_refused(
    anonymous: TestClient,
    database: Database,
    third_token: dict[str, str],
    ig_token: dict[str, str],
    method: str,
    path: str,
    allowed: str,
    subtype: str,
) -> None:
    trust = _trust(anonymous, third_token)
    before = _organisations(database)
    body = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {**trust, "name": "Renamed"},
                "request": {"method": "PUT", "url": f"Organization/{trust['id']}"},
            }
        ],
    }

    response = anonymous.request(
        method,
        path.format(id=trust["id"]),
        content=json.dumps(body if method == "POST" else {**trust, "name": "Renamed"}),
        headers={**FHIR, **third_token},
    )

    _assert_not_allowed(response, allowed)
    assert _organisations(database) == before
    (event,) = _refused_events(anonymous, ig_token, subtype, "test-third-provider")
    assert event["outcomeDesc"] == response.json()["issue"][0]["diagnostics"]
    if "{id}" in path:
        assert f"Organization/{trust['id']}" in _entities(event)


def test_the_capability_statement_says_the_directory_is_read_only(
    anonymous: TestClient,
) -> None:
    statement = anonymous.get("/fhir/metadata").json()
    (organization,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "Organization"]
    interactions = [interaction["code"] for interaction in organization["interaction"]]
    assert interactions == ["read", "vread", "history-instance", "search-type"]
    assert organization["conditionalCreate"] is False
    assert "organisations.yaml" in organization["documentation"]
    (service_request,) = [
        r for r in statement["rest"][0]["resource"] if r["type"] == "ServiceRequest"
    ]
    assert "create" in [i["code"] for i in service_request["interaction"]]


# --- start-up never fails on what a client wrote -------------------------------------------


@pytest.fixture
def started(settings: Settings) -> None:
    """The gateway has started once (the directory synced), then stopped."""
    with TestClient(create_app(settings)):
        pass


def _as_a_client_once_could(database: Database) -> dict[str, str]:
    """Organization rows as clients could write them before the directory became
    read-only: written straight to the store, as the old API would have."""
    with database.write() as connection:
        service = ResourceService(ResourceStore(connection), PagingLimits(20, 100))
        trust = _stored_by_ods(connection, TRUST_ODS)
        duplicate = service.create(
            "Organization",
            {
                "resourceType": "Organization",
                "identifier": [{"system": ODS, "value": TRUST_ODS}],
                "name": "A second Trust",
            },
        ).record
        unknown = service.create(
            "Organization",
            {
                "resourceType": "Organization",
                "identifier": [{"system": ODS, "value": "QQQ"}],
                "name": "Not in the directory",
            },
        ).record
        # The Trust's own row renamed, and its identifier taken over by AXX.
        service.update(
            "Organization",
            trust["id"],
            {**trust, "name": "Renamed", "identifier": [{"system": ODS, "value": THIRD_ODS}]},
        )
    return {"trust": trust["id"], "duplicate": duplicate.id, "unknown": unknown.id}


def _stored_by_ods(connection: Any, code: str) -> dict[str, Any]:
    for row in connection.execute(
        select(resources.c.content).where(resources.c.resource_type == "Organization")
    ):
        content: dict[str, Any] = json.loads(row.content)
        if any(i.get("value") == code for i in content.get("identifier", [])):
            return content
    raise AssertionError(f"no Organization row for {code}")


def test_start_up_retires_organization_rows_clients_wrote(
    started: None, database: Database, settings: Settings
) -> None:
    written = _as_a_client_once_could(database)

    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        headers = bearer(access_token(client))
        (trust,) = _by_ods(client, TRUST_ODS, headers)
        (third,) = _by_ods(client, THIRD_ODS, headers)
        assert _by_ods(client, "QQQ", headers) == []
        for name in ("duplicate", "unknown"):
            retired = client.get(f"/fhir/Organization/{written[name]}", headers=headers).json()
            assert retired["active"] is False
            assert "identifier" not in retired
        history = client.get(f"/fhir/Organization/{written['trust']}/_history", headers=headers)

    # The Trust's row is the directory's again, under the id records already name.
    assert trust["id"] == written["trust"]
    assert trust["name"] == TRUST_NAME
    assert trust["active"] is True
    assert third["id"] != written["trust"]
    assert [e["resource"]["name"] for e in history.json()["entry"]][:2] == [TRUST_NAME, "Renamed"]


def test_start_up_is_idempotent_after_retiring(
    started: None, database: Database, settings: Settings
) -> None:
    _as_a_client_once_could(database)
    with TestClient(create_app(settings)):
        pass
    settled = _organisations(database)
    versions = _organization_versions(database)

    with TestClient(create_app(settings)):
        pass

    assert _organisations(database) == settled
    assert _organization_versions(database) == versions


def _organization_versions(database: Database) -> int:
    with database.read() as connection:
        return len(
            connection.execute(
                select(resource_versions.c.id).where(
                    resource_versions.c.resource_type == "Organization"
                )
            ).all()
        )


def test_the_refusal_comes_before_the_scope_check_and_the_body(
    client: TestClient, database: Database
) -> None:
    # The demo provider may only read and search Organization: still 405, not 403, and a
    # body that is not even JSON is never read.
    before = _organisations(database)
    named = client.post("/fhir/Organization", json={"resourceType": "Organization", "name": "X"})
    garbled = client.post("/fhir/Organization", content=b"{not json", headers=FHIR)

    for response in (named, garbled):
        _assert_not_allowed(response, "GET")
    assert _organisations(database) == before
