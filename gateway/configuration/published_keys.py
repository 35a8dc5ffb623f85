"""Client keys whose private halves are published in this repository: the demo's, in
config/demo/keys/, and the test suite's, in tests/data/keys/. Anyone can sign with them,
so production refuses a client registered with one (a copy of the demo configuration
with `demo: false` would otherwise hand out tokens to whoever read the README).

Known by RFC 7638 thumbprint, so that a copy under another kid, or inside another JWKS,
is still recognised. tests/configuration/test_published_keys.py checks this list against
the key files, so a new demo key cannot be left out.
"""

from __future__ import annotations

from gateway.auth.client_keys import jwk_thumbprint
from gateway.auth.clients import RegisteredClient
from gateway.platform.errors import ConfigurationError

PUBLISHED_KEY_THUMBPRINTS: dict[str, str] = {
    "le1GzdSdSA1O3ZxXfEe4aoI42nDschMiw5YlFPvRRCw": "config/demo/keys/demo-ig-lead.jwks.json",
    "BYthBhE5GD6-1hL9oK52JBp3zC48PMmt7uze_vQLRCk": "config/demo/keys/demo-provider-epr.jwks.json",
    "5Jkw1mlwrLYDiD_x4mZIj3nc5Y_va2wvlMFRDyxJBco": "config/demo/keys/demo-trust-crisis.jwks.json",
    "H-ZQl4o-2vMluoxypXBhFObmVOAw7WSC0UNLKP-7v5Y": "tests/data/keys/test-third-ig-lead.jwks.json",
    "Gm9502mbn3f8-neYprpCHJmwm-kClp8SHNKrzxNZbsY": "tests/data/keys/test-third-provider.jwks.json",
}


def refuse_published_keys(clients: tuple[RegisteredClient, ...]) -> None:
    """Production's check, at start and at every reload: no client may sign with a key
    the world holds."""
    for client in clients:
        for key in client.keys:
            published_in = PUBLISHED_KEY_THUMBPRINTS.get(jwk_thumbprint(key.key))
            if published_in is not None:
                raise ConfigurationError(
                    f"client {client.client_id} is registered with key {key.kid}, whose "
                    f"private half is published ({published_in}); GATEWAY_ENV=prod refuses "
                    "it: register a key of the client's own"
                )
