"""The gateway's access tokens: ES256 JWTs it issues and verifies itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from gateway.auth.access_tokens import (
    MAX_LIFETIME_SECONDS,
    AccessTokens,
    InvalidAccessToken,
)
from gateway.auth.clients import RegisteredClient
from gateway.auth.scopes import Interaction, ScopeSet
from gateway.auth.signing_key import SigningKey, load_signing_key

ISSUER = "https://gateway.example.org"
# A fixed instant in the past: PyJWT checks iat and nbf against the real clock.
START = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


CLIENT = RegisteredClient(
    client_id="trust-system",
    organisation="RZZ",
    role="trust-crisis-system",
    purpose_of_use="safeguarding",
    allowed_scopes=ScopeSet.parse(["system/*.rs"]),
    keys=(),
)
SCOPES = ScopeSet.parse(["system/Patient.rs", "system/Task.cu"])


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return load_signing_key(tmp_path / "k.pem", generate_if_missing=True)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(key: SigningKey, clock: Clock) -> AccessTokens:
    return AccessTokens(key, ISSUER, lifetime_seconds=120, clock=clock)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


def _with_header(token: str, header: dict[str, Any], signature: bytes | None) -> str:
    _, payload, _ = token.split(".")
    signing_input = f"{_b64url(json.dumps(header).encode())}.{payload}"
    return f"{signing_input}.{_b64url(signature) if signature else ''}"


def test_an_issued_token_verifies_with_the_client_and_scopes(
    tokens: AccessTokens, clock: Clock
) -> None:
    issued = tokens.issue(CLIENT, SCOPES)
    assert issued.expires_in == 120
    assert issued.scopes == SCOPES
    clock.now += 60
    claims = tokens.verify(issued.access_token)
    assert claims.client_id == "trust-system"
    assert claims.ods_code == "RZZ"
    assert claims.role == "trust-crisis-system"
    assert claims.purpose_of_use == "safeguarding"
    assert claims.scopes == SCOPES
    assert claims.scopes.grants("Task", Interaction.UPDATE)
    assert not claims.scopes.grants("Task", Interaction.READ)
    assert claims.expires_at == START + 120


def test_a_client_without_a_role_gets_a_token_without_one(tokens: AccessTokens) -> None:
    client = RegisteredClient("epr", "AZZ", None, "direct-care", SCOPES, ())
    claims = tokens.verify(tokens.issue(client, SCOPES).access_token)
    assert claims.role is None
    assert claims.ods_code == "AZZ"
    assert claims.purpose_of_use == "direct-care"


def test_the_token_is_an_es256_jwt_naming_the_key_issuer_and_audience(
    tokens: AccessTokens, key: SigningKey
) -> None:
    token = tokens.issue(CLIENT, SCOPES).access_token
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == key.kid
    payload = _payload(token)
    assert payload["iss"] == payload["aud"] == ISSUER
    assert payload["sub"] == payload["client_id"] == "trust-system"
    assert payload["scope"] == "system/Patient.rs system/Task.cu"
    assert payload["iat"] == payload["nbf"] == START
    assert payload["exp"] == START + 120


def test_every_token_has_its_own_jti(tokens: AccessTokens) -> None:
    first = _payload(tokens.issue(CLIENT, SCOPES).access_token)
    second = _payload(tokens.issue(CLIENT, SCOPES).access_token)
    assert first["jti"] != second["jti"]


def test_the_lifetime_defaults_to_the_maximum(key: SigningKey, clock: Clock) -> None:
    issued = AccessTokens(key, ISSUER, clock=clock).issue(CLIENT, SCOPES)
    assert issued.expires_in == MAX_LIFETIME_SECONDS == 300
    assert _payload(issued.access_token)["exp"] == START + 300


@pytest.mark.parametrize("lifetime", [0, -1, 301, 3600], ids=["zero", "negative", "301", "hour"])
def test_a_lifetime_outside_1_to_300_seconds_is_refused(key: SigningKey, lifetime: int) -> None:
    with pytest.raises(ValueError, match="1 to 300 seconds"):
        AccessTokens(key, ISSUER, lifetime_seconds=lifetime)


@pytest.mark.parametrize("lifetime", [1, 300], ids=["one", "max"])
def test_the_lifetime_bounds_are_accepted(key: SigningKey, lifetime: int) -> None:
    assert AccessTokens(key, ISSUER, lifetime_seconds=lifetime).issue(CLIENT, SCOPES)


def test_a_token_is_valid_until_just_before_exp(tokens: AccessTokens, clock: Clock) -> None:
    token = tokens.issue(CLIENT, SCOPES).access_token
    clock.now = START + 119.9
    assert tokens.verify(token).client_id == "trust-system"


@pytest.mark.parametrize("after", [120, 121, 10_000], ids=["at-exp", "just-after", "long-after"])
def test_an_expired_token_is_refused(tokens: AccessTokens, clock: Clock, after: float) -> None:
    token = tokens.issue(CLIENT, SCOPES).access_token
    clock.now = START + after
    with pytest.raises(InvalidAccessToken) as raised:
        tokens.verify(token)
    assert raised.value.reason == "expired"


def test_a_verified_token_that_later_expires_is_refused_from_the_cache(
    tokens: AccessTokens, clock: Clock
) -> None:
    token = tokens.issue(CLIENT, SCOPES).access_token
    assert tokens.verify(token).client_id == "trust-system"
    assert tokens.verify(token).client_id == "trust-system"
    clock.now = START + 120
    with pytest.raises(InvalidAccessToken) as raised:
        tokens.verify(token)
    assert raised.value.reason == "expired"


def test_a_token_signed_by_another_key_is_refused(
    tokens: AccessTokens, clock: Clock, tmp_path: Path
) -> None:
    other_key = load_signing_key(tmp_path / "other.pem", generate_if_missing=True)
    other = AccessTokens(other_key, ISSUER, clock=clock)
    with pytest.raises(InvalidAccessToken) as raised:
        tokens.verify(other.issue(CLIENT, SCOPES).access_token)
    assert raised.value.reason == "invalid"


def test_a_token_for_another_issuer_is_refused(key: SigningKey, clock: Clock) -> None:
    elsewhere = AccessTokens(key, "https://other.example.org", clock=clock)
    here = AccessTokens(key, ISSUER, clock=clock)
    with pytest.raises(InvalidAccessToken) as raised:
        here.verify(elsewhere.issue(CLIENT, SCOPES).access_token)
    assert raised.value.reason == "invalid"


@pytest.mark.parametrize(
    ("claim", "value"),
    [("ods", "AZZ"), ("scope", "system/*.cruds"), ("sub", "someone-else"), ("exp", START + 9999)],
)
def test_a_token_with_a_tampered_payload_is_refused(
    tokens: AccessTokens, claim: str, value: object
) -> None:
    token = tokens.issue(CLIENT, SCOPES).access_token
    header, _, signature = token.split(".")
    payload = _payload(token)
    payload[claim] = value
    forged = f"{header}.{_b64url(json.dumps(payload).encode())}.{signature}"
    with pytest.raises(InvalidAccessToken) as raised:
        tokens.verify(forged)
    assert raised.value.reason == "invalid"


def test_a_token_with_alg_none_is_refused(tokens: AccessTokens) -> None:
    token = tokens.issue(CLIENT, SCOPES).access_token
    unsigned = _with_header(token, {"alg": "none", "typ": "JWT"}, None)
    with pytest.raises(InvalidAccessToken) as raised:
        tokens.verify(unsigned)
    assert raised.value.reason == "invalid"


def test_a_token_hmac_signed_with_the_public_key_is_refused(
    tokens: AccessTokens, key: SigningKey
) -> None:
    # The classic confusion: HS256 with the verifier's public key as the shared secret.
    secret = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = tokens.issue(CLIENT, SCOPES).access_token
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    unsigned = _with_header(token, header, None)
    signature = hmac.new(secret, unsigned.rstrip(".").encode(), hashlib.sha256).digest()
    forged = unsigned + _b64url(signature)
    with pytest.raises(InvalidAccessToken) as raised:
        tokens.verify(forged)
    assert raised.value.reason == "invalid"


@pytest.mark.parametrize(
    "token", ["", "not-a-jwt", "a.b.c", "a.b"], ids=["empty", "text", "three-parts", "two-parts"]
)
def test_garbage_is_refused_as_invalid(tokens: AccessTokens, token: str) -> None:
    with pytest.raises(InvalidAccessToken) as raised:
        tokens.verify(token)
    assert raised.value.reason == "invalid"


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "scope", "ods"])
def test_a_correctly_signed_token_missing_a_required_claim_is_refused(
    tokens: AccessTokens, key: SigningKey, missing: str
) -> None:
    payload = _payload(tokens.issue(CLIENT, SCOPES).access_token)
    del payload[missing]
    token = jwt.encode(payload, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    with pytest.raises(InvalidAccessToken) as raised:
        tokens.verify(token)
    assert raised.value.reason == "invalid"


def test_a_correctly_signed_token_with_an_unparseable_scope_is_refused(
    tokens: AccessTokens, key: SigningKey
) -> None:
    payload = _payload(tokens.issue(CLIENT, SCOPES).access_token)
    payload["scope"] = "user/Patient.rs"
    token = jwt.encode(payload, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    with pytest.raises(InvalidAccessToken) as raised:
        tokens.verify(token)
    assert raised.value.reason == "invalid"


def test_an_invalid_token_is_refused_every_time(tokens: AccessTokens) -> None:
    token = tokens.issue(CLIENT, SCOPES).access_token
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(InvalidAccessToken):
            tokens.verify(forged)
    assert tokens.verify(token).client_id == "trust-system"
