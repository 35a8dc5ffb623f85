"""A registered backend client, ready for the token endpoint: its keys parsed."""

from __future__ import annotations

from dataclasses import dataclass

from consent.purposes import Purpose, purpose_for_agreement
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
    other_purposes_of_use: frozenset[Purpose] = frozenset()
    # "system-wide" for the one IG lead who sees every organisation's events in the access
    # log; "own-organisation" for everyone else (configuration.models.AccessLogView).
    access_log: str = "own-organisation"

    @property
    def sees_every_organisation(self) -> bool:
        return self.access_log == "system-wide"

    def allows(self, purpose: Purpose) -> bool:
        """Whether a request by this client may name `purpose` (its default, or one its
        registration lists)."""
        default = purpose_for_agreement(self.purpose_of_use)  # type: ignore[arg-type]
        return purpose is default or purpose in self.other_purposes_of_use

    def keys_named(self, kid: str) -> list[ClientKey]:
        return [key for key in self.keys if key.kid == kid]
