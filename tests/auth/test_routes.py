"""The token endpoint and its discovery document, through the real application.

The negative matrix is the point: each malformed, forged or replayed assertion is
refused with RFC 6749 error JSON, and nothing but a first use of a jti is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.platform.database import Database
from gateway.platform.schema import used_assertions
from gateway.platform.settings import Settings
from tests.conftest import DEMO_CONFIG
from tests.servers import running_server
from tests.tokens import (
    IG_LEAD,
    PROVIDER,
    TOKEN_URL,
    TRUST,
    assertion,
    private_key,
    token_form,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": f"{PROVIDER}-2026-11"}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": PROVIDER,
        "sub": PROVIDER,
        "aud": TOKEN_URL,
        "exp": now + 240,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    claims.update(changes)
    return claims


def _hs256_with_public_key() -> str:
    """The classic key-confusion forgery: HMAC keyed with the client's public key."""
    public_pem = (
        private_key(PROVIDER)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": f"{PROVIDER}-2026-11"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims()).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


REFUSED: dict[str, Callable[[], str]] = {
    "expired": lambda: assertion(PROVIDER, lifetime=-120),
    "exp-too-far-ahead": lambda: assertion(PROVIDER, lifetime=600),
    "wrong-aud": lambda: assertion(PROVIDER, audience="https://elsewhere.example/oauth2/token"),
    "aud-is-the-fhir-base": lambda: assertion(PROVIDER, audience="http://testserver/fhir"),
    "alg-none": lambda: _unsigned(_claims()),
    "hs256-signed-with-the-public-key": _hs256_with_public_key,
    "rs256-not-allowed": lambda: assertion(TRUST, algorithm="RS256"),
    "unknown-kid": lambda: assertion(PROVIDER, headers={"kid": "not-a-key-of-ours"}),
    "no-kid": lambda: jwt.encode(_claims(), private_key(PROVIDER), algorithm="ES384"),
    "iss-not-sub": lambda: assertion(PROVIDER, sub=TRUST),
    "iss-another-client": lambda: assertion(PROVIDER, iss=TRUST, sub=TRUST),
    "signed-by-another-clients-key": lambda: assertion(PROVIDER, key=private_key(IG_LEAD)),
    "unregistered-client": lambda: assertion(
        PROVIDER, iss="nobody", sub="nobody", key=ec.generate_private_key(ec.SECP384R1())
    ),
}
# Not even readable as an assertion: a bad request (400), still invalid_client.
MALFORMED: dict[str, Callable[[], str]] = {
    "no-jti": lambda: assertion(PROVIDER, jti=None),
    "no-exp": lambda: jwt.encode(
        {k: v for k, v in _claims().items() if k != "exp"},
        private_key(PROVIDER),
        algorithm="ES384",
        headers={"kid": f"{PROVIDER}-2026-11"},
    ),
    "exp-as-text": lambda: assertion(PROVIDER, exp=str(int(time.time()) + 60)),
    "not-a-jwt": lambda: "not.a.jwt",
    # "\ud800" as a JSON escape: no character, so no database could record the jti.
    "jti-lone-surrogate": lambda: assertion(PROVIDER, jti="a\ud800"),
}


def _used_assertions(database: Database) -> int:
    with database.read() as connection:
        return int(
            connection.execute(select(func.count()).select_from(used_assertions)).scalar_one()
        )


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
def test_forged_or_malformed_assertions_are_refused_and_nothing_is_recorded(
    anonymous: TestClient, database: Database, make: Callable[[], str]
) -> None:
    before = _used_assertions(database)

    response = anonymous.post("/oauth2/token", data=token_form(make()))

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()
    assert response.headers["Cache-Control"] == "no-store"
    assert _used_assertions(database) == before


@pytest.mark.parametrize("make", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_assertions_are_a_bad_request_and_nothing_is_recorded(
    anonymous: TestClient, database: Database, make: Callable[[], str]
) -> None:
    before = _used_assertions(database)

    response = anonymous.post("/oauth2/token", data=token_form(make()))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()
    assert response.headers["Cache-Control"] == "no-store"
    assert _used_assertions(database) == before


def test_a_lone_surrogate_in_the_jti_is_refused_naming_the_claim(
    anonymous: TestClient, database: Database
) -> None:
    response = anonymous.post("/oauth2/token", data=token_form(assertion(PROVIDER, jti="\udfff")))

    assert response.status_code == 400, response.text
    assert response.json()["error_description"].startswith("jti must be")
    assert _used_assertions(database) == 0


def test_a_replayed_assertion_is_refused(anonymous: TestClient) -> None:
    signed = assertion(PROVIDER)

    first = anonymous.post("/oauth2/token", data=token_form(signed))
    replay = anonymous.post("/oauth2/token", data=token_form(signed))

    assert first.status_code == 200
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_a_replay_is_refused_by_another_gateway_process_on_the_same_database(
    anonymous: TestClient, settings: Settings
) -> None:
    signed = assertion(PROVIDER)
    assert anonymous.post("/oauth2/token", data=token_form(signed)).status_code == 200

    with TestClient(create_app(settings), base_url="http://testserver") as other:
        replay = other.post("/oauth2/token", data=token_form(signed))

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_two_processes_racing_one_assertion_issue_exactly_one_token(
    settings: Settings,
) -> None:
    signed = assertion(PROVIDER)
    statuses: list[int] = []
    with (
        TestClient(create_app(settings), base_url="http://testserver") as one,
        TestClient(create_app(settings), base_url="http://testserver") as two,
    ):
        start = threading.Barrier(2)

        def race(client: TestClient) -> None:
            start.wait()
            statuses.append(client.post("/oauth2/token", data=token_form(signed)).status_code)

        threads = [threading.Thread(target=race, args=(c,)) for c in (one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(statuses) == [200, 400]


def test_a_token_carries_the_scopes_asked_for_and_allowed(anonymous: TestClient) -> None:
    asked = "system/ServiceRequest.rs system/AuditEvent.rs system/Organization.cruds"
    response = anonymous.post("/oauth2/token", data=token_form(assertion(PROVIDER), asked))

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 300
    # AuditEvent is not the provider's; Organization is read and search only.
    assert body["scope"] == "system/ServiceRequest.rs system/Organization.rs"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_assertion_type": "urn:example:other"}, 400, "invalid_request"),
        ({"client_assertion": ""}, 400, "invalid_request"),
        ({"scope": ""}, 400, "invalid_request"),
        ({"scope": "user/Patient.read"}, 400, "invalid_scope"),
        ({"scope": "system/AuditEvent.rs"}, 400, "invalid_scope"),
        ({"client_id": TRUST}, 401, "invalid_client"),
    ],
    ids=[
        "grant-type",
        "assertion-type",
        "no-assertion",
        "no-scope",
        "user-scope",
        "scope-not-allowed",
        "client-id-mismatch",
    ],
)
def test_bad_token_requests_are_refused(
    anonymous: TestClient, database: Database, form: dict[str, str], status: int, error: str
) -> None:
    before = _used_assertions(database)
    response = anonymous.post("/oauth2/token", data=token_form(assertion(PROVIDER)) | form)

    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert _used_assertions(database) == before


def test_a_token_request_must_be_a_form_sent_once(anonymous: TestClient) -> None:
    as_json = anonymous.post("/oauth2/token", json=token_form(assertion(PROVIDER)))
    twice = anonymous.post(
        "/oauth2/token",
        content="grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"
    assert twice.status_code == 400
    assert "more than once" in twice.json()["error_description"]


@pytest.fixture
def ambiguous_kid_app(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """The demo configuration, but the provider publishes two keys under one kid."""
    config = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, config)
    jwks_path = config / "keys" / f"{PROVIDER}.jwks.json"
    jwks = json.loads(jwks_path.read_text())
    jwks["keys"].append(dict(jwks["keys"][0]))
    jwks_path.write_text(json.dumps(jwks))
    changed = settings.model_copy(update={"config_dir": config})
    with TestClient(create_app(changed), base_url="http://testserver") as client:
        yield client


def test_a_kid_that_names_two_keys_is_refused(ambiguous_kid_app: TestClient) -> None:
    response = ambiguous_kid_app.post("/oauth2/token", data=token_form(assertion(PROVIDER)))

    assert response.status_code == 401
    assert "more than one" in response.json()["error_description"]


def test_smart_configuration_describes_backend_services(anonymous: TestClient) -> None:
    response = anonymous.get("/.well-known/smart-configuration")

    assert response.status_code == 200
    document = response.json()
    assert document["token_endpoint"] == TOKEN_URL
    assert document["grant_types_supported"] == ["client_credentials"]
    assert document["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert document["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert "client-confidential-asymmetric" in document["capabilities"]


def test_token_requests_from_one_address_are_limited_with_oauth_error_json_at_a_real_server(
    database_url: str,
) -> None:
    limited = {
        "GATEWAY_TOKEN_RATE_LIMIT_PER_SECOND": "0.01",
        "GATEWAY_TOKEN_RATE_LIMIT_BURST": "3",
    }
    with running_server(database_url, **limited) as base:
        url = f"{base}/oauth2/token"
        with httpx.Client(timeout=10) as http:
            answers = [
                http.post(url, data=token_form(assertion(PROVIDER, audience=url))) for _ in range(4)
            ]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
        throttled = answers[-1]
        assert throttled.json()["error"] == "temporarily_unavailable"
        assert int(throttled.headers["Retry-After"]) >= 1
        assert throttled.headers["Cache-Control"] == "no-store"
        # Another address has a bucket of its own.
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(timeout=10, transport=other) as elsewhere:
            signed = assertion(PROVIDER, audience=url)
            assert elsewhere.post(url, data=token_form(signed)).status_code == 200
