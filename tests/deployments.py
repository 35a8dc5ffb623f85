"""A production-like deployment for tests that run `gateway serve` with GATEWAY_ENV=prod:
the demo configuration with `demo: false` and keys of its own, and provisioned signing
keys, as an operator would set it up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from gateway.access_log.keys import load_audit_signing_key
from gateway.auth.signing_key import load_signing_key
from tests.conftest import DEMO_CONFIG

PUBLIC_BASE_URL = "https://gateway.example.nhs.uk"


def production_config(directory: Path) -> Path:
    """The demo configuration as a deployment of its own: not a demo, and each client
    registered with a freshly generated key (its private half beside it, where
    `gateway token` looks)."""
    shutil.copytree(DEMO_CONFIG, directory)
    (directory / "deployment.yaml").write_text("name: production-like\ndemo: false\n")
    for jwks_file in sorted((directory / "keys").glob("*.jwks.json")):
        client_id = jwks_file.name.removesuffix(".jwks.json")
        kid = json.loads(jwks_file.read_text())["keys"][0]["kid"]
        private = ec.generate_private_key(ec.SECP384R1())
        public = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
        jwks_file.write_text(json.dumps({"keys": [{**public, "kid": kid, "alg": "ES384"}]}))
        (directory / "keys" / f"{client_id}.private.pem").write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return directory


def production_env(directory: Path, **extra: str) -> dict[str, str]:
    """GATEWAY_ settings for a prod deployment in `directory` (config and keys made)."""
    config = production_config(directory / "config")
    token_key, audit_key = directory / "token-key.pem", directory / "audit-key.pem"
    # Provisioned by the operator (prod never generates them): made here as dev would.
    load_signing_key(token_key, generate_if_missing=True)
    load_audit_signing_key(audit_key, name="provisioned", generate_if_missing=True)
    return {
        "GATEWAY_ENV": "prod",
        "GATEWAY_CONFIG_DIR": str(config),
        "GATEWAY_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "GATEWAY_TOKEN_SIGNING_KEY": str(token_key),
        "GATEWAY_AUDIT_SIGNING_KEY": str(audit_key),
        **extra,
    }
