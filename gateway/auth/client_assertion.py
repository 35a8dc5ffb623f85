"""Signing a SMART Backend Services client assertion: what `gateway token` does for the
demo clients, and what the gateway itself does as a client of a Trust's token endpoint."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from gateway.platform.clock import new_id

ASSERTION_LIFETIME_SECONDS = 240


def load_private_key(path: Path) -> Any:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def client_assertion(
    client_id: str,
    token_url: str,
    private_key: Any,
    *,
    kid: str,
    algorithm: str,
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME_SECONDS,
        "jti": new_id(),
    }
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": kid})
