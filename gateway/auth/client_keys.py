"""Client public keys from a JWKS: only the algorithms SMART Backend Services names.

RS384 (RSA, at least 2048 bits) and ES384 (EC P-384). Everything else is refused when the
configuration loads, so the token endpoint never has to guess how to use a key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ALLOWED_ALGORITHMS = ("RS384", "ES384")
_MINIMUM_RSA_BITS = 2048
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class JWKSError(ValueError):
    """A JWKS entry the gateway will not use; the message names the entry, not its value."""


@dataclass(frozen=True, slots=True)
class ClientKey:
    kid: str
    algorithm: str
    key: PublicKey


def parse_jwks(jwks: Mapping[str, Any]) -> tuple[ClientKey, ...]:
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise JWKSError("a JWKS needs a non-empty 'keys' list")
    return tuple(_parse_key(index, entry) for index, entry in enumerate(keys))


def _parse_key(index: int, entry: Any) -> ClientKey:
    where = f"keys[{index}]"
    if not isinstance(entry, Mapping):
        raise JWKSError(f"{where}: a key is a JSON object")
    if any(member in entry for member in _PRIVATE_MEMBERS):
        raise JWKSError(f"{where}: holds private key material; register public keys only")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JWKSError(f"{where}: every key needs a kid")
    kty = entry.get("kty")
    algorithm = entry.get("alg")
    text = json.dumps(dict(entry))
    try:
        if kty == "RSA" and algorithm in (None, "RS384"):
            rsa_key = RSAAlgorithm.from_jwk(text)
            if not isinstance(rsa_key, rsa.RSAPublicKey):
                raise JWKSError(f"{where}: not an RSA public key")
            if rsa_key.key_size < _MINIMUM_RSA_BITS:
                raise JWKSError(f"{where}: RSA keys must have at least 2048 bits")
            return ClientKey(kid, "RS384", rsa_key)
        if kty == "EC" and entry.get("crv") == "P-384" and algorithm in (None, "ES384"):
            ec_key = ECAlgorithm.from_jwk(text)
            if not isinstance(ec_key, ec.EllipticCurvePublicKey):
                raise JWKSError(f"{where}: not an EC public key")
            return ClientKey(kid, "ES384", ec_key)
    except (ValueError, TypeError, KeyError, jwt.PyJWTError) as error:
        if isinstance(error, JWKSError):
            raise
        raise JWKSError(f"{where}: not a valid {kty} public key") from None
    raise JWKSError(f"{where}: only RSA keys for RS384 and EC P-384 keys for ES384 are accepted")


def jwk_thumbprint(key: PublicKey) -> str:
    """The key's RFC 7638 thumbprint (SHA-256, base64url): the same key gives the same
    thumbprint whatever kid, alg or other members a JWKS lists it with."""
    if isinstance(key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
        required = {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}
    else:
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
        required = {"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
