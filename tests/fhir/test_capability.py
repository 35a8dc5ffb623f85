"""The CapabilityStatement must list exactly what the server does."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from core.fhir.models import SUPPORTED_RESOURCE_TYPES
from core.search.parameters import PARAMETERS
from gateway.app import create_app
from gateway.platform.settings import Settings


def _statement(client: TestClient) -> dict[str, Any]:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    statement: dict[str, Any] = response.json()
    return statement


def test_metadata_needs_no_body_and_names_fhir_4_0_1(client: TestClient) -> None:
    statement = _statement(client)
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    assert statement["format"] == ["application/fhir+json", "json"]


def test_every_listed_resource_type_is_served_and_no_other(client: TestClient) -> None:
    listed = [r["type"] for r in _statement(client)["rest"][0]["resource"]]
    assert listed == [*SUPPORTED_RESOURCE_TYPES, "Subscription"]
    for resource_type in listed:
        assert client.get(f"/fhir/{resource_type}?_count=0").status_code == 200
    assert client.get("/fhir/Observation").status_code == 404


def test_every_listed_search_parameter_is_accepted(client: TestClient) -> None:
    samples = {"token": "x", "reference": "Organization/x", "date": "ge2026-01-01"}
    for resource in _statement(client)["rest"][0]["resource"]:
        for param in resource["searchParam"]:
            value = "abc" if param["name"] == "_id" else samples[param["type"]]
            if param["type"] == "reference":
                targets = {p.name: p.targets for p in PARAMETERS.get(resource["type"], ())}
                if targets[param["name"]]:
                    value = f"{targets[param['name']][0]}/x"
            response = client.get(f"/fhir/{resource['type']}", params={param["name"]: value})
            assert response.status_code == 200, (resource["type"], param["name"])


def test_an_unlisted_search_parameter_is_refused(client: TestClient) -> None:
    for resource in _statement(client)["rest"][0]["resource"]:
        listed = {p["name"] for p in resource["searchParam"]}
        assert "birthdate" not in listed
        assert client.get(f"/fhir/{resource['type']}?birthdate=2000").status_code == 400


def test_listed_includes_work(client: TestClient) -> None:
    for resource in _statement(client)["rest"][0]["resource"]:
        for include in resource.get("searchInclude", []):
            response = client.get(f"/fhir/{resource['type']}", params={"_include": include})
            assert response.status_code == 200, include


def test_listed_interactions_match_the_routes(settings: Settings) -> None:
    app = create_app(settings)
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    expected = {
        "create": ("POST", "/fhir/{resource_type}"),
        "read": ("GET", "/fhir/{resource_type}/{resource_id}"),
        "vread": ("GET", "/fhir/{resource_type}/{resource_id}/_history/{version_id}"),
        "update": ("PUT", "/fhir/{resource_type}/{resource_id}"),
        "delete": ("DELETE", "/fhir/{resource_type}/{resource_id}"),
        "history-instance": ("GET", "/fhir/{resource_type}/{resource_id}/_history"),
        "search-type": ("GET", "/fhir/{resource_type}"),
    }
    with TestClient(app) as client:
        listed = {
            (r["type"], i["code"])
            for r in _statement(client)["rest"][0]["resource"]
            for i in r["interaction"]
        }
    for resource_type, code in listed:
        method, path = expected[code]
        # Served by the generic routes, or by routes of the type's own (Subscription).
        assert (method, path) in routes or (
            method,
            path.replace("{resource_type}", resource_type),
        ) in routes, (resource_type, code)
    # Only Subscriptions are deleted; no stored record type is.
    assert {t for t, code in listed if code == "delete"} == {"Subscription"}
    assert ("DELETE", "/fhir/{resource_type}/{resource_id}") not in routes
    assert ("DELETE", "/fhir/Subscription/{resource_id}") in routes


def test_the_capability_statement_says_how_access_is_decided(anonymous: TestClient) -> None:
    security = anonymous.get("/fhir/metadata").json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    assert "X-Purpose-Of-Use" in security["description"]
    assert "X-Break-Glass-Justification" in security["description"]


def test_the_handover_operations_are_listed(client: TestClient) -> None:
    statement = client.get("/fhir/metadata").json()
    rest = statement["rest"][0]
    assert [op["name"] for op in rest["operation"]] == ["process-message"]
    communication = next(r for r in rest["resource"] if r["type"] == "Communication")
    assert [op["name"] for op in communication["operation"]] == ["summary"]
    assert statement["messaging"][0]["supportedMessage"][0]["mode"] == "receiver"
