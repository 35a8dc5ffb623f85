"""Getting access tokens in tests the way a real client does: a signed assertion with the
demo client's published private key, posted to /oauth2/token."""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from tests.paths import REPO

DEMO_KEYS = REPO / "config" / "demo" / "keys"
# The test configuration's own clients (tests/conftest.py), keys published like the demo's.
TEST_KEYS = REPO / "tests" / "data" / "keys"
TOKEN_URL = "http://testserver/oauth2/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

PROVIDER = "demo-provider-epr"  # acts for AZZ
TRUST = "demo-trust-crisis"  # acts for RZZ
IG_LEAD = "demo-ig-lead"
# A third organisation (AXX, a provider) with its own agreement with the Trust and no
# agreement with AZZ, registered with broad scopes: the adversary of tests/security.
THIRD_PROVIDER = "test-third-provider"
THIRD_IG_LEAD = "test-third-ig-lead"
THIRD_ODS = "AXX"

ALGORITHMS = {
    PROVIDER: "ES384",
    TRUST: "RS384",
    IG_LEAD: "ES384",
    THIRD_PROVIDER: "ES384",
    THIRD_IG_LEAD: "ES384",
}
PROVIDER_SCOPES = (
    "system/ServiceRequest.cruds system/Communication.cruds system/Flag.cruds "
    "system/Task.cruds system/Consent.cruds system/Provenance.cruds system/Patient.cruds "
    "system/Organization.rs system/Subscription.cruds"
)
TRUST_SCOPES = (
    "system/*.rs system/ServiceRequest.u system/Communication.cu system/Task.cu "
    "system/Subscription.cud"
)
THIRD_PROVIDER_SCOPES = "system/*.cruds"


@functools.cache
def private_key(client_id: str) -> Any:
    """Loaded once per client: loading checks an RSA key, which cost 14% of the suite."""
    keys = TEST_KEYS if client_id.startswith("test-") else DEMO_KEYS
    return serialization.load_pem_private_key(
        (keys / f"{client_id}.private.pem").read_bytes(), password=None
    )


def assertion(
    client_id: str = PROVIDER,
    *,
    audience: str = TOKEN_URL,
    lifetime: int = 240,
    key: Any = None,
    algorithm: str | None = None,
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "exp": now + lifetime,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(
        payload,
        key if key is not None else private_key(client_id),
        algorithm=algorithm or ALGORITHMS[client_id],
        headers={"kid": f"{client_id}-2026-11", **(headers or {})},
    )


def token_form(signed: str, scope: str = PROVIDER_SCOPES) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
        "scope": scope,
    }


def access_token(client: TestClient, client_id: str = PROVIDER, scope: str | None = None) -> str:
    default = {TRUST: TRUST_SCOPES, THIRD_PROVIDER: THIRD_PROVIDER_SCOPES}
    wanted = scope or default.get(client_id, PROVIDER_SCOPES)
    response = client.post("/oauth2/token", data=token_form(assertion(client_id), wanted))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
