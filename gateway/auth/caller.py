"""Who is calling, as every service sees it: established from the access token (and,
where a deployment uses it, the client certificate), never from the request body."""

from __future__ import annotations

from dataclasses import dataclass

from consent.purposes import Purpose, purpose_for_agreement
from gateway.auth.scopes import Interaction, ScopeSet


@dataclass(frozen=True, slots=True)
class EndUser:
    """The person behind a system call, from the BaRS headers, for the access log.

    Recorded as the sender asserted it; the gateway authenticates systems, not people.
    """

    organisation_ods: str | None
    practitioner_identifiers: tuple[tuple[str, str], ...] = ()
    practitioner_resource_type: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    client_id: str
    ods_code: str
    role: str | None
    scopes: ScopeSet
    purpose_of_use: str  # the token's default, an agreement purpose (direct-care...)
    end_user: EndUser | None = None
    # What this request is for: X-Purpose-Of-Use, or the token's default.
    requested_purpose: Purpose | None = None
    # Why recorded dissent must be overridden, as the client stated it.
    justification: str | None = None

    @property
    def purpose(self) -> Purpose:
        if self.requested_purpose is not None:
            return self.requested_purpose
        return purpose_for_agreement(self.purpose_of_use)  # type: ignore[arg-type]

    def may(self, resource_type: str, interaction: Interaction) -> bool:
        return self.scopes.grants(resource_type, interaction)
