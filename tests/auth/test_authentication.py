"""Calls to the API: who may call, with what scope, and which organisation's resources
each caller sees. Every refusal is a 401/403/404 OperationOutcome and writes nothing."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.auth.access_tokens import AccessTokens
from gateway.auth.clients import RegisteredClient
from gateway.auth.scopes import ScopeSet
from gateway.auth.signing_key import load_signing_key
from gateway.platform.database import Database
from gateway.platform.schema import metadata
from gateway.platform.settings import Settings
from tests.builders import ODS, ods_reference, service_request
from tests.conftest import DEMO_CONFIG, OTHER_TRUSTS
from tests.servers import running_server
from tests.tokens import PROVIDER, THIRD_ODS, TRUST, access_token, bearer

FHIR = {"Content-Type": "application/fhir+json"}
OPEN_PATHS = {
    "/fhir/metadata",
    "/openapi.json",
    "/.well-known/smart-configuration",
    "/healthz",
    "/readyz",
    "/oauth2/token",
    # Prometheus scrapes without a token; it holds counts and ODS codes, no patient data.
    "/metrics",
}


def _row_counts(database: Database) -> dict[str, int]:
    with database.read() as connection:
        return {
            table.name: int(
                connection.execute(select(func.count()).select_from(table)).scalar_one()
            )
            for table in metadata.sorted_tables
            # The access log records each refusal (tests/access_log/test_recording.py);
            # on PostgreSQL each authenticated request takes from its client's bucket.
            if table.name not in ("used_assertions", "rate_limit_buckets")
            and not table.name.startswith("audit_")
        }


def _assert_refusal(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == code


def _token_for(
    settings: Settings, *, clock_offset: float = 0.0, key_path: Path | None = None
) -> str:
    key = load_signing_key(key_path or settings.token_signing_key, generate_if_missing=True)
    tokens = AccessTokens(
        key, issuer="urn:mh-gateway:demo", clock=lambda: time.time() + clock_offset
    )
    client = RegisteredClient(
        client_id=PROVIDER,
        organisation="AZZ",
        role="provider-epr",
        purpose_of_use="direct-care",
        allowed_scopes=ScopeSet.parse(["system/ServiceRequest.cruds"]),
        keys=(),
    )
    return tokens.issue(client, client.allowed_scopes).access_token


# --- who may call ----------------------------------------------------------------------


def test_every_route_but_the_open_ones_needs_a_token(anonymous: TestClient) -> None:
    # The OpenAPI document lists every route the application serves.
    paths: dict[str, dict[str, Any]] = anonymous.get("/openapi.json").json()["paths"]
    assert set(paths) >= OPEN_PATHS - {"/openapi.json"}
    guarded = {path: methods for path, methods in paths.items() if path not in OPEN_PATHS}
    assert len(guarded) >= 5, "the data routes were not found"
    for template, methods in guarded.items():
        path = template.replace("{resource_type}", "ServiceRequest")
        path = path.replace("{resource_id}", "x").replace("{version_id}", "1")
        for method in methods:
            response = anonymous.request(method.upper(), path)
            _assert_refusal(response, 401, "login")
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-token", "Bearer a.b.c", "bearer  x y"],
    ids=["basic", "empty-bearer", "opaque", "bad-jwt", "spaces"],
)
def test_malformed_or_foreign_credentials_are_refused(
    anonymous: TestClient, database: Database, authorization: str
) -> None:
    before = _row_counts(database)
    response = anonymous.post(
        "/fhir/ServiceRequest",
        json=service_request(),
        headers=FHIR | {"Authorization": authorization},
    )
    _assert_refusal(response, 401, "login")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert _row_counts(database) == before


def test_an_expired_token_is_refused(anonymous: TestClient, settings: Settings) -> None:
    expired = _token_for(settings, clock_offset=-3600)
    response = anonymous.get("/fhir/ServiceRequest", headers=bearer(expired))
    _assert_refusal(response, 401, "login")
    assert "expired" in response.json()["issue"][0]["diagnostics"]


def test_a_token_signed_by_another_gateways_key_is_refused(
    anonymous: TestClient, settings: Settings, tmp_path: Path
) -> None:
    foreign = _token_for(settings, key_path=tmp_path / "another-gateway.pem")
    response = anonymous.get("/fhir/ServiceRequest", headers=bearer(foreign))
    _assert_refusal(response, 401, "login")


def test_a_token_for_a_client_no_longer_registered_is_refused(
    anonymous: TestClient, settings: Settings, tmp_path: Path
) -> None:
    token = access_token(anonymous, PROVIDER)
    config = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, config)
    clients = (config / "clients.yaml").read_text()
    (config / "clients.yaml").write_text(
        clients.replace("client_id: demo-provider-epr", "client_id: renamed-epr")
    )
    restarted = settings.model_copy(update={"config_dir": config})
    with TestClient(create_app(restarted), base_url="http://testserver") as after:
        response = after.get("/fhir/ServiceRequest", headers=bearer(token))
    _assert_refusal(response, 401, "login")


# --- scopes ----------------------------------------------------------------------------


def test_create_without_read_cannot_read_or_search(
    anonymous: TestClient, database: Database
) -> None:
    create_only = bearer(access_token(anonymous, PROVIDER, "system/ServiceRequest.c"))
    created = anonymous.post(
        "/fhir/ServiceRequest", json=service_request(), headers=FHIR | create_only
    )
    assert created.status_code == 201
    resource_id = created.json()["id"]

    for path in (
        f"/fhir/ServiceRequest/{resource_id}",
        f"/fhir/ServiceRequest/{resource_id}/_history",
        f"/fhir/ServiceRequest/{resource_id}/_history/1",
        "/fhir/ServiceRequest",
    ):
        response = anonymous.get(path, headers=create_only)
        _assert_refusal(response, 403, "forbidden")
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    before = _row_counts(database)
    update = anonymous.put(
        f"/fhir/ServiceRequest/{resource_id}",
        json=service_request(id=resource_id),
        headers=FHIR | create_only,
    )
    _assert_refusal(update, 403, "forbidden")
    other_type = anonymous.post(
        "/fhir/Flag", json={"resourceType": "Flag"}, headers=FHIR | create_only
    )
    _assert_refusal(other_type, 403, "forbidden")
    assert _row_counts(database) == before


def test_v1_scopes_are_accepted_as_aliases(anonymous: TestClient) -> None:
    v1 = bearer(
        access_token(anonymous, PROVIDER, "system/ServiceRequest.read system/ServiceRequest.write")
    )
    created = anonymous.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR | v1)
    assert created.status_code == 201
    assert (
        anonymous.get(f"/fhir/ServiceRequest/{created.json()['id']}", headers=v1).status_code == 200
    )


def test_included_resources_need_a_read_scope_for_their_type(anonymous: TestClient) -> None:
    full = bearer(access_token(anonymous, PROVIDER))
    flag = anonymous.post(
        "/fhir/Flag",
        json={
            "resourceType": "Flag",
            "status": "active",
            "code": {"text": "risk"},
            "subject": {
                "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}
            },
            "author": ods_reference(),
        },
        headers=FHIR | full,
    )
    assert flag.status_code == 201
    request = service_request(supportingInfo=[{"reference": f"Flag/{flag.json()['id']}"}])
    assert (
        anonymous.post("/fhir/ServiceRequest", json=request, headers=FHIR | full).status_code == 201
    )
    requests_only = bearer(access_token(anonymous, PROVIDER, "system/ServiceRequest.rs"))

    with_flags = anonymous.get(
        "/fhir/ServiceRequest?_include=ServiceRequest:supporting-info", headers=full
    ).json()
    without = anonymous.get(
        "/fhir/ServiceRequest?_include=ServiceRequest:supporting-info", headers=requests_only
    ).json()

    assert any(e["resource"]["resourceType"] == "Flag" for e in with_flags["entry"])
    assert all(e["resource"]["resourceType"] == "ServiceRequest" for e in without["entry"])


# --- which organisation sees what --------------------------------------------------------


@pytest.fixture
def elsewhere(client: TestClient) -> dict[str, Any]:
    """A request from the provider (AZZ) to a Trust other than RZZ: RZZ is no party."""
    body = service_request(performer=[ods_reference("R1A")])
    created = client.post("/fhir/ServiceRequest", json=body, headers=FHIR)
    assert created.status_code == 201
    return dict(created.json())


def test_another_organisations_resource_answers_404_like_a_missing_one(
    client: TestClient, trust_token: dict[str, str], elsewhere: dict[str, Any]
) -> None:
    resource_id = elsewhere["id"]
    missing = client.get("/fhir/ServiceRequest/no-such-id", headers=trust_token)

    for path in (
        f"/fhir/ServiceRequest/{resource_id}",
        f"/fhir/ServiceRequest/{resource_id}/_history",
        f"/fhir/ServiceRequest/{resource_id}/_history/1",
    ):
        response = client.get(path, headers=trust_token)
        _assert_refusal(response, 404, "not-found")
        if path.endswith(resource_id):
            assert response.json() == missing.json()
    # The owner still sees it.
    assert client.get(f"/fhir/ServiceRequest/{resource_id}").status_code == 200


def test_another_organisations_resource_cannot_be_updated(
    client: TestClient, database: Database, elsewhere: dict[str, Any]
) -> None:
    trust = bearer(access_token(client, TRUST, "system/ServiceRequest.rus"))
    before = _row_counts(database)
    response = client.put(
        f"/fhir/ServiceRequest/{elsewhere['id']}",
        json={**elsewhere, "status": "revoked"},
        headers=FHIR | trust,
    )
    _assert_refusal(response, 404, "not-found")
    assert _row_counts(database) == before


def test_search_neither_returns_nor_counts_nor_pages_over_what_the_caller_cannot_see(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    for _ in range(3):
        body = service_request(performer=[ods_reference("R1A")])
        assert client.post("/fhir/ServiceRequest", json=body, headers=FHIR).status_code == 201
    ours = client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR).json()

    trust_view = client.get(
        "/fhir/ServiceRequest", params={"_total": "accurate", "_count": "1"}, headers=trust_token
    ).json()
    provider_view = client.get(
        "/fhir/ServiceRequest", params={"_total": "accurate", "_count": "1"}
    ).json()

    assert trust_view["total"] == 1
    assert [e["resource"]["id"] for e in trust_view["entry"]] == [ours["id"]]
    assert not any(link["relation"] == "next" for link in trust_view.get("link", []))
    assert provider_view["total"] == 4


def test_include_never_brings_another_organisations_resource(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    private_flag = client.post(
        "/fhir/Flag",
        json={
            "resourceType": "Flag",
            "status": "active",
            "code": {"text": "risk"},
            "subject": {
                "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}
            },
            "author": ods_reference(),
        },
        headers=FHIR,
    ).json()
    shared = service_request(supportingInfo=[{"reference": f"Flag/{private_flag['id']}"}])
    assert client.post("/fhir/ServiceRequest", json=shared, headers=FHIR).status_code == 201

    bundle = client.get(
        "/fhir/ServiceRequest?_include=ServiceRequest:supporting-info", headers=trust_token
    ).json()

    types = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert types == ["ServiceRequest"]


def test_the_directory_is_readable_by_every_organisation(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    bundle = client.get("/fhir/Organization", headers=trust_token).json()
    codes = {e["resource"]["identifier"][0]["value"] for e in bundle["entry"]}
    assert codes == {"AZZ", "RZZ", *OTHER_TRUSTS, THIRD_ODS}


# --- the sender is the caller ------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "body"),
    [
        ("ServiceRequest", service_request(requester=ods_reference("RZZ"))),
        (
            "ServiceRequest",
            service_request(
                requester={
                    "reference": "Organization/whatever",
                    "identifier": {"system": ODS, "value": "AZZ"},
                }
            ),
        ),
        (
            "Patient",
            {
                "resourceType": "Patient",
                "managingOrganization": ods_reference("RZZ"),
            },
        ),
    ],
    ids=["requester-is-another-org", "requester-in-two-minds", "patient-managed-elsewhere"],
)
def test_content_naming_another_organisation_as_sender_is_forbidden(
    client: TestClient, database: Database, resource_type: str, body: dict[str, Any]
) -> None:
    body = copy.deepcopy(body)
    if body.get("requester", {}).get("reference") == "Organization/whatever":
        trust_org = client.get(f"/fhir/Organization?identifier={ODS}|RZZ").json()
        body["requester"]["reference"] = f"Organization/{trust_org['entry'][0]['resource']['id']}"
    before = _row_counts(database)

    response = client.post(f"/fhir/{resource_type}", json=body, headers=FHIR)

    _assert_refusal(response, 403, "forbidden")
    assert _row_counts(database) == before


def test_content_without_a_sender_is_unprocessable(client: TestClient, database: Database) -> None:
    before = _row_counts(database)
    body = {k: v for k, v in service_request().items() if k != "requester"}
    response = client.post("/fhir/ServiceRequest", json=body, headers=FHIR)
    _assert_refusal(response, 422, "business-rule")
    assert response.json()["issue"][0]["expression"] == ["ServiceRequest.requester"]
    assert _row_counts(database) == before


def test_a_literal_reference_to_the_callers_organisation_counts_as_the_sender(
    client: TestClient,
) -> None:
    azz = client.get(f"/fhir/Organization?identifier={ODS}|AZZ").json()["entry"][0]["resource"]
    body = service_request(requester={"reference": f"Organization/{azz['id']}"})
    assert client.post("/fhir/ServiceRequest", json=body, headers=FHIR).status_code == 201


def test_the_performer_may_neither_update_nor_forge_the_sender_nor_write_itself_out(
    client: TestClient,
) -> None:
    # Only the requester, the record's author, writes it: the performer answers with a
    # Task of its own (tests/security/test_authorship.py).
    created = client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR).json()
    trust = FHIR | bearer(access_token(client, TRUST, "system/ServiceRequest.rus"))
    path = f"/fhir/ServiceRequest/{created['id']}"

    refused = client.put(path, json={**created, "status": "on-hold"}, headers=trust)
    _assert_refusal(refused, 403, "forbidden")
    forged = client.put(path, json={**created, "requester": ods_reference("R1A")}, headers=trust)
    _assert_refusal(forged, 403, "forbidden")
    written_out = client.put(
        path, json={**created, "performer": [ods_reference("R1A")]}, headers=trust
    )
    _assert_refusal(written_out, 403, "forbidden")
    assert client.get(path).json() == created


# --- end-user context, limits, headers ---------------------------------------------------


def _b64json(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


END_USER_ORGANISATION = _b64json(
    {"resourceType": "Organization", "identifier": [{"system": ODS, "value": "AZZ"}], "name": "P"}
)
PRACTITIONER = _b64json(
    {
        "resourceType": "PractitionerRole",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "5555"}],
    }
)


def test_bars_end_user_headers_are_accepted_when_well_formed(client: TestClient) -> None:
    response = client.post(
        "/fhir/ServiceRequest",
        json=service_request(),
        headers=FHIR
        | {
            "NHSD-End-User-Organisation": END_USER_ORGANISATION,
            "NHSD-Requesting-Practitioner": PRACTITIONER,
        },
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("NHSD-End-User-Organisation", "%%%not-base64%%%"),
        ("NHSD-End-User-Organisation", _b64json({"resourceType": "Patient"})),
        ("NHSD-End-User-Organisation", _b64json({"resourceType": "Organization"})),
        ("NHSD-Requesting-Practitioner", _b64json(["not", "an", "object"])),
        ("NHSD-Requesting-Practitioner", _b64json({"resourceType": "PractitionerRole"})),
        (
            # "\ud800" as a JSON escape: no character, and the access log would store it.
            "NHSD-Requesting-Practitioner",
            _b64json(
                {
                    "resourceType": "PractitionerRole",
                    "identifier": [{"system": "https://sds.example", "value": "55\ud800"}],
                }
            ),
        ),
    ],
    ids=[
        "not-base64",
        "not-an-organisation",
        "no-ods-code",
        "array",
        "no-identifier",
        "lone-surrogate",
    ],
)
def test_malformed_end_user_headers_are_refused(
    client: TestClient, database: Database, header: str, value: str
) -> None:
    before = _row_counts(database)
    response = client.post(
        "/fhir/ServiceRequest", json=service_request(), headers=FHIR | {header: value}
    )
    _assert_refusal(response, 400, "invalid")
    assert response.json()["issue"][0]["expression"] == [header]
    assert _row_counts(database) == before


@pytest.fixture
def limited(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """Demo clients without their own limits, and a bucket of 3 that barely refills."""
    config = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, config)
    clients = config / "clients.yaml"
    clients.write_text(
        "".join(line for line in clients.read_text().splitlines(True) if "rate_limit" not in line)
    )
    changed = settings.model_copy(
        update={"config_dir": config, "rate_limit_per_second": 0.01, "rate_limit_burst": 3}
    )
    with TestClient(create_app(changed), base_url="http://testserver") as client:
        yield client


def test_a_client_over_its_rate_gets_429_with_retry_after(limited: TestClient) -> None:
    token = bearer(access_token(limited, PROVIDER))
    statuses = [limited.get("/fhir/ServiceRequest", headers=token).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = limited.get("/fhir/ServiceRequest", headers=token)
    _assert_refusal(refused, 429, "throttled")
    assert int(refused.headers["Retry-After"]) >= 1
    # Another client has its own bucket.
    other = bearer(access_token(limited, TRUST))
    assert limited.get("/fhir/ServiceRequest", headers=other).status_code == 200


def test_security_headers_are_on_every_response(anonymous: TestClient, client: TestClient) -> None:
    for response in (
        anonymous.get("/fhir/metadata"),
        anonymous.get("/fhir/ServiceRequest"),
        client.get("/fhir/ServiceRequest"),
        anonymous.get("/nowhere"),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


def test_a_flood_of_anonymous_requests_from_one_address_is_answered_429_at_a_real_server(
    database_url: str,
) -> None:
    limited = {
        "GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": "0.01",
        "GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": "5",
    }
    with running_server(database_url, **limited) as base:
        with httpx.Client(base_url=base, timeout=10) as flood:
            answers = [flood.get("/fhir/ServiceRequest") for _ in range(8)]
        assert [answer.status_code for answer in answers] == [401] * 5 + [429] * 3
        throttled = answers[-1]
        assert int(throttled.headers["Retry-After"]) >= 1
        assert throttled.json()["resourceType"] == "OperationOutcome"
        assert throttled.json()["issue"][0]["code"] == "throttled"
        # Per address: another one is still told it needs a token, not to wait.
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=base, timeout=10, transport=other) as elsewhere:
            assert elsewhere.get("/fhir/ServiceRequest").status_code == 401
