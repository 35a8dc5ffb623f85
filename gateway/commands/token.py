"""`gateway token`: an access token got as a registered client gets one, for curl."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from gateway.auth.client_assertion import client_assertion, load_private_key
from gateway.auth.token_service import ASSERTION_TYPE
from gateway.configuration.loader import load_config
from gateway.platform.errors import ConfigurationError
from gateway.platform.settings import Settings


def token_command(
    settings: Settings, client_id: str, url: str | None, scope: str | None, key: Path | None
) -> int:
    """The token alone goes to stdout; why there is none, to stderr."""
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    try:
        response = request_token(settings.config_dir, client_id, base, scope=scope, key=key)
    except httpx.HTTPError:
        print(
            f"gateway: cannot reach {base}/oauth2/token (is the gateway running?)", file=sys.stderr
        )
        return 1
    if response.status_code != 200:
        print(f"gateway: token refused ({response.status_code}): {response.text}", file=sys.stderr)
        return 1
    print(response.json()["access_token"])
    return 0


def request_token(
    config_dir: Path,
    client_id: str,
    base: str,
    *,
    scope: str | None = None,
    key: Path | None = None,
) -> httpx.Response:
    """Sign an assertion with the client's key (default: <config dir>/keys/<client>.
    private.pem) and trade it at `base`'s token endpoint, exactly as a client system
    does. The token endpoint's answer, whatever it is."""
    client = load_config(config_dir).client(client_id)
    if client is None:
        raise ConfigurationError(f"no client {client_id} in {config_dir}/clients.yaml")
    if len(client.keys) != 1:
        raise ConfigurationError(f"client {client_id} has several keys; this command needs one")
    key_path = key or config_dir / "keys" / f"{client_id}.private.pem"
    if not key_path.exists():
        raise ConfigurationError(f"the client's private key {key_path} does not exist (--key)")
    signed = client_assertion(
        client_id,
        f"{base}/oauth2/token",
        load_private_key(key_path),
        kid=client.keys[0].kid,
        algorithm=client.keys[0].algorithm,
    )
    return httpx.post(
        f"{base}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
            "scope": scope or str(client.allowed_scopes),
        },
        timeout=10,
    )
