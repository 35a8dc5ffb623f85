"""The gateway's access tokens: short-lived JWTs (ES256) signed with its own key.

Verification needs no database: the signature, issuer, audience and expiry decide. A
verified token is cached until it expires, so a client's repeated calls pay for the
signature check once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from gateway.auth.clients import RegisteredClient
from gateway.auth.scopes import ScopeError, ScopeSet
from gateway.auth.signing_key import ALGORITHM, SigningKey
from gateway.platform.clock import new_id

MAX_LIFETIME_SECONDS = 300
_CACHE_SIZE = 10_000
_CLOCK_SKEW_SECONDS = 30


class InvalidAccessToken(Exception):
    """Not a token this gateway issued, or no longer valid. `reason` is for the logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenClaims:
    client_id: str
    ods_code: str
    role: str | None
    scopes: ScopeSet
    purpose_of_use: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scopes: ScopeSet


class AccessTokens:
    def __init__(
        self,
        key: SigningKey,
        issuer: str,
        *,
        lifetime_seconds: int = MAX_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < lifetime_seconds <= MAX_LIFETIME_SECONDS:
            raise ValueError("access tokens live for 1 to 300 seconds")
        self._key = key
        self._issuer = issuer
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._cache: OrderedDict[str, TokenClaims] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, client: RegisteredClient, scopes: ScopeSet) -> IssuedToken:
        now = int(self._clock())
        claims = {
            "iss": self._issuer,
            "aud": self._issuer,
            "sub": client.client_id,
            "client_id": client.client_id,
            "ods": client.organisation,
            "role": client.role,
            "scope": str(scopes),
            "purpose_of_use": client.purpose_of_use,
            "iat": now,
            "nbf": now,
            "exp": now + self._lifetime,
            "jti": new_id(),
        }
        token = jwt.encode(
            claims, self._key.private_key, algorithm=ALGORITHM, headers={"kid": self._key.kid}
        )
        return IssuedToken(token, self._lifetime, scopes)

    def verify(self, token: str) -> TokenClaims:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(token)
            if cached is not None:
                self._cache.move_to_end(token)  # least recently used goes first
        if cached is not None:
            if cached.expires_at <= now:
                raise InvalidAccessToken("expired")
            return cached
        claims = self._decode(token, now)
        with self._lock:
            self._cache[token] = claims
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return claims

    def _decode(self, token: str, now: float) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self._key.public_key,
                algorithms=[ALGORITHM],
                audience=self._issuer,
                issuer=self._issuer,
                # Times are checked below against this object's clock, with a little
                # leeway for processes on other hosts whose clocks differ.
                options={
                    "require": ["exp", "iat", "sub", "scope", "ods"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise InvalidAccessToken("invalid") from None
        if payload["exp"] <= now:
            raise InvalidAccessToken("expired")
        if payload["iat"] > now + _CLOCK_SKEW_SECONDS:
            raise InvalidAccessToken("invalid")
        try:
            scopes = ScopeSet.parse(str(payload["scope"]).split())
        except ScopeError:
            raise InvalidAccessToken("invalid") from None
        return TokenClaims(
            client_id=str(payload["sub"]),
            ods_code=str(payload["ods"]),
            role=payload.get("role"),
            scopes=scopes,
            purpose_of_use=str(payload.get("purpose_of_use", "direct-care")),
            expires_at=float(payload["exp"]),
        )
