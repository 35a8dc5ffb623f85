"""The gateway's own token-signing key (ECDSA P-256, ES256).

Development generates it on first start (into var/keys/, readable by the owner only);
production must be given one, so every process of a deployment signs and verifies with
the same key and a restart never invalidates tokens in flight.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from gateway.platform.errors import ConfigurationError
from gateway.platform.keyfiles import write_new_private_file

ALGORITHM = "ES256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()


def load_signing_key(path: Path, *, generate_if_missing: bool) -> SigningKey:
    if not path.exists():
        if not generate_if_missing:
            raise ConfigurationError(
                f"the token-signing key {path} does not exist (GATEWAY_TOKEN_SIGNING_KEY); "
                "production never generates one: provision a P-256 private key in PEM"
            )
        _generate(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigurationError(f"{path}: the token-signing key must be an EC P-256 key")
    return SigningKey(key, key_id(key.public_key()))


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 thumbprint of the public key, so a kid names exactly one key."""
    jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def _generate(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_new_private_file(path, pem)
