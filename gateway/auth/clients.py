"""A registered backend client, ready for the token endpoint: its keys parsed."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.auth.client_keys import ClientKey
from gateway.auth.scopes import ScopeSet


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client_id: str
    organisation: str  # ODS code the client acts for
    role: str | None
    purpose_of_use: str
    allowed_scopes: ScopeSet
    keys: tuple[ClientKey, ...]
    certificate_sha256: str | None = None
    rate_per_second: float | None = None
    rate_burst: int | None = None

    def keys_named(self, kid: str) -> list[ClientKey]:
        return [key for key in self.keys if key.kid == kid]
