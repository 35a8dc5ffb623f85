"""How the gateway authenticates to a Trust's system, per endpoint.

SMART Backend Services: a client assertion (a JWT signed with the gateway's private key
for that Trust) is traded at the Trust's token endpoint for an access token, which is
cached until shortly before it expires; a 401 from the Trust drops it, so the next
attempt gets a fresh one (once per attempt, never in a loop). Mutual TLS: the endpoint's
httpx client presents the configured certificate and trusts the configured CA.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import httpx

from gateway.auth.client_assertion import client_assertion, load_private_key
from gateway.configuration.endpoints import MutualTls, SmartClient

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# A token is renewed this long before it expires, so none expires on the wire.
_RENEW_BEFORE_SECONDS = 30


class TokenRefused(Exception):
    """The Trust's token endpoint would not issue a token (its status, never a body)."""


@dataclass
class _Cached:
    token: str
    expires_at: float


class SmartTokens:
    def __init__(self, client: SmartClient, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
        self._key = load_private_key(client.private_key_file)
        self._cached: _Cached | None = None
        self._lock = anyio.Lock()

    async def token(self, http: httpx.AsyncClient) -> str:
        async with self._lock:
            now = self._clock()
            if self._cached is not None and now < self._cached.expires_at:
                return self._cached.token
            token, lifetime = await self._fetch(http, now)
            self._cached = _Cached(token, now + max(lifetime - _RENEW_BEFORE_SECONDS, 0))
            return token

    def forget(self) -> None:
        """The Trust refused the token (401): the next attempt fetches another."""
        self._cached = None

    async def _fetch(self, http: httpx.AsyncClient, now: float) -> tuple[str, float]:
        url = str(self._client.token_url)
        assertion = client_assertion(
            self._client.client_id,
            url,
            self._key,
            kid=self._client.key_id,
            algorithm=self._client.algorithm,
            now=now,
        )
        response = await http.post(
            url,
            data={
                "grant_type": "client_credentials",
                "scope": self._client.scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        if response.status_code != 200:
            raise TokenRefused(f"token endpoint answered HTTP {response.status_code}")
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise TokenRefused("token endpoint gave no access_token")
        lifetime = body.get("expires_in", 300)
        return token, float(lifetime) if isinstance(lifetime, int | float) else 300.0


def tls_context(mtls: MutualTls) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(mtls.ca_file) if mtls.ca_file is not None else None
    )
    context.load_cert_chain(str(mtls.certificate_file), str(mtls.private_key_file))
    return context
