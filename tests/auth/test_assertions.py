"""Verifying SMART Backend Services client assertions (private_key_jwt)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gateway.auth.assertions import (
    AssertionRefused,
    VerifiedAssertion,
    verify_client_assertion,
)
from gateway.auth.client_keys import parse_jwks
from gateway.auth.clients import RegisteredClient
from gateway.auth.scopes import ScopeSet

TOKEN_URL = "https://gateway.example.org/oauth2/token"
CLIENT_ID = "provider-epr"
EC_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP384R1())
EC_256_KEY = ec.generate_private_key(ec.SECP256R1())
EC_521_KEY = ec.generate_private_key(ec.SECP521R1())


def _jwk(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid}


def _client(*jwks: dict[str, Any]) -> RegisteredClient:
    return RegisteredClient(
        client_id=CLIENT_ID,
        organisation="AZZ",
        role="provider-epr",
        purpose_of_use="direct-care",
        allowed_scopes=ScopeSet.parse(["system/Patient.rs"]),
        keys=parse_jwks({"keys": list(jwks)}),
    )


CLIENT = _client(_jwk(EC_KEY, "ec-1"), _jwk(RSA_KEY, "rsa-1"))


def _now() -> datetime:
    # PyJWT checks exp, nbf and iat against the real clock; the gateway's clock must agree.
    return datetime.now(UTC).replace(microsecond=0)


def _claims(now: datetime, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": TOKEN_URL,
        "exp": int((now + timedelta(seconds=240)).timestamp()),
        "iat": int(now.timestamp()),
        "jti": str(uuid.uuid4()),
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed(
    claims: dict[str, Any],
    key: Any = EC_KEY,
    algorithm: str = "ES384",
    kid: str | None = "ec-1",
) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def _b64url(value: dict[str, Any] | bytes) -> str:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_signed(header: dict[str, Any], claims: dict[str, Any], key: Any = EC_KEY) -> str:
    """Signed without PyJWT's encoder, which refuses to write some malformed tokens."""
    signing_input = f"{_b64url(header)}.{_b64url(claims)}"
    signature = jwt.get_algorithm_by_name(header["alg"]).sign(signing_input.encode(), key)
    return f"{signing_input}.{_b64url(signature)}"


def _find(client_id: str) -> RegisteredClient | None:
    return CLIENT if client_id == CLIENT_ID else None


Finder = Callable[[str], RegisteredClient | None]


def _verify(assertion: str, now: datetime, find: Finder = _find) -> VerifiedAssertion:
    return verify_client_assertion(assertion, find_client=find, token_url=TOKEN_URL, now=now)


def _refusal(assertion: str, now: datetime, find: Finder = _find) -> AssertionRefused:
    with pytest.raises(AssertionRefused) as raised:
        _verify(assertion, now, find)
    return raised.value


@pytest.mark.parametrize(
    ("key", "algorithm", "kid"),
    [(EC_KEY, "ES384", "ec-1"), (RSA_KEY, "RS384", "rsa-1")],
    ids=["ES384", "RS384"],
)
def test_a_valid_assertion_is_accepted(key: Any, algorithm: str, kid: str) -> None:
    now = _now()
    claims = _claims(now, jti="assertion-1")
    verified = _verify(_signed(claims, key, algorithm, kid), now)
    assert verified.client is CLIENT
    assert verified.jti == "assertion-1"
    assert verified.expires_at == datetime.fromtimestamp(claims["exp"], UTC)


def test_an_assertion_without_iat_is_accepted() -> None:
    now = _now()
    assert _verify(_signed(_claims(now, iat=None)), now).client is CLIENT


def test_the_kid_selects_among_several_keys_and_the_rest_are_not_tried() -> None:
    now = _now()
    client = _client(_jwk(OTHER_EC_KEY, "old"), _jwk(EC_KEY, "new"))
    verified = _verify(_signed(_claims(now), kid="new"), now, lambda _: client)
    assert verified.client is client
    refused = _refusal(_signed(_claims(now), kid="old"), now, lambda _: client)
    assert refused.reason == "signature"


@pytest.mark.parametrize(
    "assertion",
    ["", "not-a-jwt", "a.b.c", "e30.e30", f"{_b64url({'alg': 'ES384'})}.bm90IGpzb24.c2ln"],
    ids=["empty", "text", "garbage-parts", "two-parts", "payload-not-json"],
)
def test_a_malformed_assertion_is_refused(assertion: str) -> None:
    refused = _refusal(assertion, _now())
    assert refused.reason == "malformed"


def test_an_unsigned_alg_none_assertion_is_refused() -> None:
    now = _now()
    header = {"alg": "none", "typ": "JWT", "kid": "ec-1"}
    unsigned = f"{_b64url(header)}.{_b64url(_claims(now))}."
    assert _refusal(unsigned, now).reason == "algorithm"


@pytest.mark.parametrize(
    ("key", "algorithm", "kid"),
    [
        (b"a shared secret that is long enough for hs256", "HS256", "ec-1"),
        (RSA_KEY, "RS256", "rsa-1"),
        (RSA_KEY, "PS384", "rsa-1"),
        (EC_256_KEY, "ES256", "ec-1"),
        (EC_521_KEY, "ES512", "ec-1"),
    ],
    ids=["HS256", "RS256", "PS384", "ES256", "ES512"],
)
def test_an_algorithm_other_than_rs384_or_es384_is_refused(
    key: Any, algorithm: str, kid: str
) -> None:
    now = _now()
    refused = _refusal(_signed(_claims(now), key, algorithm, kid), now)
    assert refused.reason == "algorithm"
    assert "RS384 or ES384" in refused.description


@pytest.mark.parametrize("kid", [None, ""], ids=["absent", "empty"])
def test_an_assertion_without_a_kid_is_refused(kid: str | None) -> None:
    now = _now()
    assert _refusal(_signed(_claims(now), kid=kid), now).reason == "kid-missing"


def test_the_hand_signing_helper_makes_assertions_the_gateway_accepts() -> None:
    now = _now()
    token = _hand_signed({"alg": "ES384", "kid": "ec-1"}, _claims(now))
    assert _verify(token, now).client is CLIENT


def test_a_non_string_kid_is_refused() -> None:
    now = _now()
    token = _hand_signed({"alg": "ES384", "kid": 7}, _claims(now))
    assert _refusal(token, now).reason == "malformed"


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": "someone-else"},
        {"iss": "someone-else"},
    ],
    ids=["sub-differs", "iss-differs"],
)
def test_iss_and_sub_must_both_be_the_client_id(changes: dict[str, Any]) -> None:
    now = _now()
    token = _hand_signed({"alg": "ES384", "kid": "ec-1"}, _claims(now, **changes))
    refused = _refusal(token, now)
    assert refused.reason == "iss-sub"
    assert not refused.malformed


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": None}, "claim-missing"),
        ({"sub": None}, "claim-missing"),
        ({"iss": None, "sub": None}, "claim-missing"),
        ({"iss": 7, "sub": 7}, "claim-malformed"),
        ({"iss": [CLIENT_ID], "sub": [CLIENT_ID]}, "claim-malformed"),
        ({"iss": "", "sub": ""}, "claim-malformed"),
    ],
    ids=["no-iss", "no-sub", "neither", "numbers", "lists", "empty"],
)
def test_iss_and_sub_missing_or_not_strings_are_malformed(
    changes: dict[str, Any], reason: str
) -> None:
    now = _now()
    token = _hand_signed({"alg": "ES384", "kid": "ec-1"}, _claims(now, **changes))
    refused = _refusal(token, now)
    assert refused.reason == reason
    assert refused.malformed


def test_an_unknown_client_is_refused_like_a_bad_signature() -> None:
    now = _now()
    claims = _claims(now, iss="nobody", sub="nobody")
    unknown = _refusal(_signed(claims), now)
    assert unknown.reason == "unknown-client"
    bad_signature = _refusal(_signed(_claims(now), key=OTHER_EC_KEY), now)
    assert bad_signature.reason == "signature"
    assert unknown.description == bad_signature.description == str(unknown)


def test_the_client_is_looked_up_by_the_iss_claim() -> None:
    now = _now()
    asked: list[str] = []

    def find(client_id: str) -> RegisteredClient | None:
        asked.append(client_id)
        return CLIENT

    _verify(_signed(_claims(now)), now, find)
    assert asked == [CLIENT_ID]


def test_a_kid_naming_two_registered_keys_is_refused() -> None:
    now = _now()
    client = _client(_jwk(EC_KEY, "same"), _jwk(OTHER_EC_KEY, "same"))
    refused = _refusal(_signed(_claims(now), kid="same"), now, lambda _: client)
    assert refused.reason == "kid-ambiguous"


def test_a_kid_the_client_has_not_registered_is_refused() -> None:
    now = _now()
    refused = _refusal(_signed(_claims(now), kid="ec-2"), now)
    assert refused.reason == "kid-unknown"
    assert refused.description == "client authentication failed"


@pytest.mark.parametrize(
    ("key", "algorithm", "kid"),
    [(EC_KEY, "ES384", "rsa-1"), (RSA_KEY, "RS384", "ec-1")],
    ids=["es384-naming-rsa-key", "rs384-naming-ec-key"],
)
def test_a_kid_naming_a_key_of_another_algorithm_is_refused(
    key: Any, algorithm: str, kid: str
) -> None:
    now = _now()
    assert _refusal(_signed(_claims(now), key, algorithm, kid), now).reason == "kid-unknown"


def test_an_assertion_signed_by_another_key_is_refused() -> None:
    now = _now()
    refused = _refusal(_signed(_claims(now), key=OTHER_EC_KEY), now)
    assert refused.reason == "signature"
    assert refused.description == "client authentication failed"


def test_an_assertion_with_a_tampered_payload_is_refused() -> None:
    now = _now()
    header, _, signature = _signed(_claims(now)).split(".")
    tampered = f"{header}.{_b64url(_claims(now, jti='replayed'))}.{signature}"
    assert _refusal(tampered, now).reason == "signature"


def test_an_assertion_expired_within_the_clock_skew_is_accepted() -> None:
    now = _now()
    exp = int((now - timedelta(seconds=20)).timestamp())
    assert _verify(_signed(_claims(now, exp=exp)), now).client is CLIENT


@pytest.mark.parametrize("age", [35, 120, 3600], ids=["35s", "2min", "1h"])
def test_an_assertion_expired_beyond_the_clock_skew_is_refused(age: int) -> None:
    now = _now()
    exp = int((now - timedelta(seconds=age)).timestamp())
    refused = _refusal(_signed(_claims(now, exp=exp)), now)
    assert refused.reason == "expired"


def test_the_gateway_clock_decides_expiry_too() -> None:
    now = _now()
    claims = _claims(now, exp=int((now + timedelta(seconds=60)).timestamp()))
    later = now + timedelta(seconds=120)
    assert _refusal(_signed(claims), later).reason == "expired"


@pytest.mark.parametrize("lifetime", [300, 330], ids=["five-minutes", "five-minutes-and-skew"])
def test_an_expiry_up_to_five_minutes_and_the_skew_ahead_is_accepted(lifetime: int) -> None:
    now = _now()
    exp = int((now + timedelta(seconds=lifetime)).timestamp())
    assert _verify(_signed(_claims(now, exp=exp)), now).client is CLIENT


@pytest.mark.parametrize("lifetime", [331, 600, 86_400], ids=["331s", "10min", "day"])
def test_an_expiry_further_ahead_is_refused(lifetime: int) -> None:
    now = _now()
    exp = int((now + timedelta(seconds=lifetime)).timestamp())
    assert _refusal(_signed(_claims(now, exp=exp)), now).reason == "exp-too-far"


@pytest.mark.parametrize(
    "audience",
    [
        "https://gateway.example.org/oauth2/token/",
        "https://other.example.org/oauth2/token",
        "https://gateway.example.org",
        ["https://other.example.org/oauth2/token"],
    ],
    ids=["trailing-slash", "other-host", "base-url", "list-without-token-url"],
)
def test_an_assertion_for_another_audience_is_refused(audience: str | list[str]) -> None:
    now = _now()
    assert _refusal(_signed(_claims(now, aud=audience)), now).reason == "aud"


@pytest.mark.parametrize("claim", ["jti", "exp", "aud"])
def test_an_assertion_missing_a_required_claim_is_refused_naming_it(claim: str) -> None:
    now = _now()
    refused = _refusal(_signed(_claims(now, **{claim: None})), now)
    assert refused.reason == "claim-missing"
    assert claim in refused.description


def test_an_assertion_not_valid_yet_is_refused() -> None:
    now = _now()
    nbf = int((now + timedelta(seconds=120)).timestamp())
    assert _refusal(_signed(_claims(now, nbf=nbf)), now).reason == "not-yet-valid"


def test_a_jti_of_255_characters_is_accepted() -> None:
    now = _now()
    assert _verify(_signed(_claims(now, jti="j" * 255)), now).jti == "j" * 255


@pytest.mark.parametrize("jti", ["j" * 256, "", 12345], ids=["256-characters", "empty", "number"])
def test_a_jti_that_is_not_a_string_of_1_to_255_characters_is_refused(jti: object) -> None:
    now = _now()
    token = _hand_signed({"alg": "ES384", "kid": "ec-1"}, _claims(now, jti=jti))
    refused = _refusal(token, now)
    assert refused.reason == "claim-malformed"
    assert refused.malformed
    assert "1 to 255 Unicode characters" in refused.description


MALFORMED_VALUES: dict[str, object] = {
    "empty-string": "",
    "fraction": 1_800_000_000.5,
    "huge-number": 1e308,
    "huge-integer": 10**30,
    "negative": -1,
    "boolean": True,
    "null": None,
    "array-of-numbers": [1_800_000_000],
    "object": {"value": 1_800_000_000},
}


@pytest.mark.parametrize("kind", MALFORMED_VALUES)
@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "sub", "aud", "jti"])
def test_a_claim_of_the_wrong_type_or_range_is_malformed_naming_it(claim: str, kind: str) -> None:
    now = _now()
    claims = {**_claims(now), claim: MALFORMED_VALUES[kind]}
    refused = _refusal(_hand_signed({"alg": "ES384", "kid": "ec-1"}, claims), now)
    assert refused.reason == "claim-malformed"
    assert refused.malformed
    assert refused.description.startswith(claim)


@pytest.mark.parametrize(
    "claim", ["exp", "iat", "nbf"], ids=["exp-as-text", "iat-as-text", "nbf-as-text"]
)
def test_a_date_written_as_digits_in_a_string_is_malformed(claim: str) -> None:
    now = _now()
    claims = {**_claims(now), claim: str(int(now.timestamp()))}
    refused = _refusal(_hand_signed({"alg": "ES384", "kid": "ec-1"}, claims), now)
    assert refused.reason == "claim-malformed"
    assert "NumericDate" in refused.description


def test_an_audience_given_as_an_array_holding_this_endpoint_is_accepted() -> None:
    now = _now()
    claims = _claims(now, aud=["https://other.example.org", TOKEN_URL])
    assert _verify(_signed(claims), now).client is CLIENT
