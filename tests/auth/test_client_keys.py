"""Client JWKS: only RS384 (RSA >= 2048) and ES384 (EC P-384) public keys are accepted."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gateway.auth.client_keys import ClientKey, JWKSError, jwk_thumbprint, parse_jwks


def _ec_private(curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve)


def _rsa_private(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


EC_384 = _ec_private(ec.SECP384R1())
EC_256 = _ec_private(ec.SECP256R1())
RSA_2048 = _rsa_private(2048)
RSA_1024 = _rsa_private(1024)


def _ec_jwk(key: ec.EllipticCurvePrivateKey, **members: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update(members)
    return {name: value for name, value in jwk.items() if value is not None}


def _rsa_jwk(key: rsa.RSAPrivateKey, **members: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update(members)
    return {name: value for name, value in jwk.items() if value is not None}


def _private_ec_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": "k1"}


@pytest.mark.parametrize(
    "jwk",
    [_ec_jwk(EC_384, kid="ec", alg="ES384"), _ec_jwk(EC_384, kid="ec")],
    ids=["alg-ES384", "no-alg"],
)
def test_an_ec_p384_key_is_accepted_for_es384(jwk: dict[str, Any]) -> None:
    (key,) = parse_jwks({"keys": [jwk]})
    assert key.kid == "ec"
    assert key.algorithm == "ES384"
    assert isinstance(key.key, ec.EllipticCurvePublicKey)
    assert key.key.public_numbers() == EC_384.public_key().public_numbers()


@pytest.mark.parametrize(
    "jwk",
    [_rsa_jwk(RSA_2048, kid="rsa", alg="RS384"), _rsa_jwk(RSA_2048, kid="rsa")],
    ids=["alg-RS384", "no-alg"],
)
def test_an_rsa_2048_key_is_accepted_for_rs384(jwk: dict[str, Any]) -> None:
    (key,) = parse_jwks({"keys": [jwk]})
    assert key.kid == "rsa"
    assert key.algorithm == "RS384"
    assert isinstance(key.key, rsa.RSAPublicKey)
    assert key.key.public_numbers() == RSA_2048.public_key().public_numbers()


def test_several_keys_are_returned_in_order_with_use_and_key_ops_tolerated() -> None:
    keys = parse_jwks(
        {
            "keys": [
                _ec_jwk(EC_384, kid="first", use="sig"),
                _rsa_jwk(RSA_2048, kid="second", key_ops=["verify"]),
            ]
        }
    )
    assert [(key.kid, key.algorithm) for key in keys] == [("first", "ES384"), ("second", "RS384")]
    assert all(isinstance(key, ClientKey) for key in keys)


@pytest.mark.parametrize(
    "jwks",
    [{}, {"keys": []}, {"keys": None}, {"keys": {"kid": "k"}}, {"keys": "abc"}],
    ids=["no-keys", "empty-list", "null", "object-not-list", "string"],
)
def test_a_jwks_without_a_non_empty_keys_list_is_refused(jwks: dict[str, Any]) -> None:
    with pytest.raises(JWKSError, match="non-empty 'keys' list"):
        parse_jwks(jwks)


@pytest.mark.parametrize(
    ("jwk", "problem"),
    [
        ("not a key", "JSON object"),
        (["kty", "EC"], "JSON object"),
        (_private_ec_jwk(EC_384), "private key material"),
        (_ec_jwk(EC_384, kid="k", d="AAAA"), "private key material"),
        (_rsa_jwk(RSA_2048, kid="k", p="AAAA"), "private key material"),
        (_ec_jwk(EC_384), "kid"),
        (_ec_jwk(EC_384, kid=""), "kid"),
        (_ec_jwk(EC_384, kid=7), "kid"),
        (_rsa_jwk(RSA_1024, kid="k"), "2048 bits"),
        (_rsa_jwk(RSA_1024, kid="k", alg="RS384"), "2048 bits"),
        (_ec_jwk(EC_256, kid="k"), "only RSA keys for RS384 and EC P-384"),
        (_ec_jwk(EC_256, kid="k", alg="ES256"), "only RSA keys for RS384 and EC P-384"),
        (_ec_jwk(EC_384, kid="k", alg="ES256"), "only RSA keys for RS384 and EC P-384"),
        (_rsa_jwk(RSA_2048, kid="k", alg="RS256"), "only RSA keys for RS384 and EC P-384"),
        (_rsa_jwk(RSA_2048, kid="k", alg="PS384"), "only RSA keys for RS384 and EC P-384"),
        (_rsa_jwk(RSA_2048, kid="k", alg="ES384"), "only RSA keys for RS384 and EC P-384"),
        ({"kty": "oct", "kid": "k", "alg": "HS384"}, "only RSA keys for RS384 and EC P-384"),
        ({"kty": "oct", "kid": "k", "k": "c2VjcmV0"}, "private key material"),
        ({"kty": "OKP", "kid": "k", "crv": "Ed25519", "x": "AAAA"}, "only RSA keys"),
        ({"kid": "k"}, "only RSA keys for RS384 and EC P-384"),
    ],
    ids=[
        "string-entry",
        "list-entry",
        "ec-private-key",
        "d-member",
        "rsa-p-member",
        "kid-missing",
        "kid-empty",
        "kid-not-string",
        "rsa-1024",
        "rsa-1024-rs384",
        "ec-p256",
        "ec-p256-es256",
        "ec-p384-alg-es256",
        "rsa-alg-rs256",
        "rsa-alg-ps384",
        "rsa-alg-es384",
        "oct-without-k",
        "oct-with-k",
        "okp",
        "no-kty",
    ],
)
def test_an_unusable_key_is_refused_naming_its_entry(jwk: Any, problem: str) -> None:
    good = _ec_jwk(EC_384, kid="good")
    with pytest.raises(JWKSError) as raised:
        parse_jwks({"keys": [good, jwk]})
    message = str(raised.value)
    assert message.startswith("keys[1]: ")
    assert problem in message


def _key_material(jwk: dict[str, Any]) -> list[str]:
    return [
        value
        for name, value in jwk.items()
        if name in ("n", "x", "y", "d", "p", "q", "k") and isinstance(value, str)
    ]


@pytest.mark.parametrize(
    "jwk",
    [
        _private_ec_jwk(EC_384),
        _rsa_jwk(RSA_1024, kid="k"),
        _ec_jwk(EC_256, kid="k"),
        {**_ec_jwk(EC_384, kid="k"), "x": _ec_jwk(EC_384)["y"]},
    ],
    ids=["private", "rsa-1024", "ec-p256", "point-off-curve"],
)
def test_the_refusal_never_quotes_key_material(jwk: dict[str, Any]) -> None:
    with pytest.raises(JWKSError) as raised:
        parse_jwks({"keys": [jwk]})
    message = str(raised.value)
    assert message.startswith("keys[0]: ")
    for material in _key_material(jwk):
        assert material not in message
        assert material[:16] not in message


@pytest.mark.parametrize(
    "jwk",
    [
        {**_ec_jwk(EC_384, kid="k"), "x": _ec_jwk(EC_384)["y"]},
        {**_ec_jwk(EC_384, kid="k"), "x": _ec_jwk(EC_384)["x"][:-4]},
        {name: value for name, value in _ec_jwk(EC_384, kid="k").items() if name != "y"},
        {"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"},
        {"kty": "RSA", "kid": "k", "e": "AQAB"},
        {"kty": "RSA", "kid": "k"},
    ],
    ids=[
        "ec-point-off-curve",
        "ec-coordinate-too-short",
        "ec-no-y",
        "rsa-tiny-modulus",
        "rsa-no-n",
        "rsa-no-n-no-e",
    ],
)
def test_a_malformed_key_is_refused_as_a_jwks_error(jwk: dict[str, Any]) -> None:
    # A configuration loader catches JWKSError alone: any other exception escapes it.
    with pytest.raises(JWKSError, match=r"^keys\[0\]: "):
        parse_jwks({"keys": [jwk]})


# RFC 7638 section 3.1's worked example: this key's thumbprint is given there.
RFC_7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_a_jwk_thumbprint_is_rfc_7638s() -> None:
    key = RSAAlgorithm.from_jwk(RFC_7638_KEY)
    assert isinstance(key, rsa.RSAPublicKey)
    assert jwk_thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_a_thumbprint_names_the_key_whatever_kid_or_alg_it_is_listed_with() -> None:
    first = parse_jwks({"keys": [_ec_jwk(EC_384, kid="a", alg="ES384")]})[0]
    again = parse_jwks({"keys": [_ec_jwk(EC_384, kid="b", use="sig")]})[0]
    other = parse_jwks({"keys": [_ec_jwk(_ec_private(ec.SECP384R1()), kid="a")]})[0]
    assert jwk_thumbprint(first.key) == jwk_thumbprint(again.key)
    assert jwk_thumbprint(first.key) != jwk_thumbprint(other.key)
