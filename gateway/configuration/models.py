"""What a configuration directory holds, as validated, immutable values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from consent.agreements import Agreement
from consent.purposes import Purpose
from core.fhir.identifiers import is_local_system
from gateway.auth.clients import RegisteredClient
from gateway.auth.scopes import ScopeError, parse_scope
from gateway.configuration.agreements import AgreementEntry
from gateway.configuration.audit_log import AuditLogConfig
from gateway.configuration.endpoints import Endpoints
from gateway.configuration.fields import OdsCode
from gateway.configuration.ladders import Ladders
from gateway.configuration.pathways import PathwaysConfig

ClientRole = Literal["provider-epr", "trust-crisis-system", "ig-lead", "operator"]
# Whose events an IG lead sees in the access log: their own organisation's (as caller,
# data origin or recipient), or, for the one IG lead of the organisation that operates
# the gateway, every organisation's.
AccessLogView = Literal["own-organisation", "system-wide"]
# The gateway's own purposes of use (CodeSystem purpose-of-use, listed in docs/access.md),
# the same three a data-sharing agreement names.
PurposeOfUse = Literal["direct-care", "safeguarding", "service-improvement"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Deployment(_Strict):
    name: str
    # A demo deployment carries published keys and sample data: never for production.
    demo: bool = False


def _local_system(value: str) -> str:
    if not is_local_system(value):
        raise ValueError(
            "must be the absolute URI of the organisation's own patient identifier system "
            "(http, https, urn:oid or urn:uuid; at most 190 characters, no space or bar), "
            "not a UK Core system"
        )
    return value


class Organisation(_Strict):
    ods: OdsCode
    name: str
    role: Literal["provider", "trust"]
    locality: str | None = None
    # The systems of the organisation's own patient identifiers, for a person with no NHS
    # number yet (core.fhir.patients): a record names a person by one only where this
    # organisation is party to it, since only it can say who the person is.
    local_patient_identifier_systems: tuple[Annotated[str, AfterValidator(_local_system)], ...] = ()


class Directory(_Strict):
    organisations: tuple[Organisation, ...]

    @field_validator("organisations")
    @classmethod
    def _unique(cls, value: tuple[Organisation, ...]) -> tuple[Organisation, ...]:
        codes = [organisation.ods for organisation in value]
        if len(codes) != len(set(codes)):
            raise ValueError("each ODS code may appear only once")
        systems = [s for o in value for s in o.local_patient_identifier_systems]
        if len(systems) != len(set(systems)):
            raise ValueError(
                "a local patient identifier system is registered for one organisation only "
                "(the one that issues its numbers), and once"
            )
        return value

    @property
    def local_patient_systems(self) -> dict[str, frozenset[str]]:
        """Each organisation's local patient identifier systems, by ODS code."""
        return {
            o.ods: frozenset(o.local_patient_identifier_systems)
            for o in self.organisations
            if o.local_patient_identifier_systems
        }


class RateLimit(_Strict):
    """A token bucket: `burst` requests at once, refilled at `per_second`."""

    per_second: float = Field(gt=0)
    burst: int = Field(ge=1)


class ClientEntry(_Strict):
    """A registered backend client, as written in clients.yaml."""

    client_id: str = Field(pattern=r"^[A-Za-z0-9._\-]{1,128}$")
    organisation: OdsCode
    role: ClientRole | None = None
    purpose_of_use: PurposeOfUse = "direct-care"
    # Purposes a request may name instead (X-Purpose-Of-Use), beyond the default:
    # v3 TREAT, ETREAT, BTG, or safeguarding / service-improvement.
    other_purposes_of_use: tuple[Purpose, ...] = ()
    scopes: tuple[str, ...] = Field(min_length=1)
    # Exactly one of: the JWKS inline, or a path (relative to the configuration
    # directory) to a JWKS file.
    jwks: dict[str, Any] | None = None
    jwks_file: str | None = None
    # For mutual TLS: the SHA-256 of the client certificate (DER), hex.
    certificate_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    rate_limit: RateLimit | None = None
    access_log: AccessLogView = "own-organisation"

    @field_validator("scopes")
    @classmethod
    def _smart_scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            try:
                parse_scope(text)
            except ScopeError as error:
                raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> ClientEntry:
        if (self.jwks is None) == (self.jwks_file is None):
            raise ValueError("give exactly one of jwks (inline) or jwks_file")
        # The access log is for information-governance leads alone.
        if self.role != "ig-lead" and any(
            parse_scope(text).resource_type == "AuditEvent" for text in self.scopes
        ):
            raise ValueError("AuditEvent scopes are for clients with role ig-lead only")
        if self.access_log == "system-wide" and self.role != "ig-lead":
            raise ValueError("access_log: system-wide is for a client with role ig-lead only")
        return self


class Clients(_Strict):
    clients: tuple[ClientEntry, ...]

    @field_validator("clients")
    @classmethod
    def _unique(cls, value: tuple[ClientEntry, ...]) -> tuple[ClientEntry, ...]:
        ids = [client.client_id for client in value]
        if len(ids) != len(set(ids)):
            raise ValueError("each client_id may appear only once")
        thumbprints = [c.certificate_sha256 for c in value if c.certificate_sha256]
        if len(thumbprints) != len(set(thumbprints)):
            raise ValueError("a certificate may be registered to one client only")
        # Seeing every organisation's access history is the widest view there is: one
        # registration holds it (the operating organisation's IG), named in one place,
        # so each party can see who it is and nobody can widen it by copying an entry.
        system_wide = [c.client_id for c in value if c.access_log == "system-wide"]
        if len(system_wide) > 1:
            raise ValueError(
                "access_log: system-wide may be given to one client only "
                f"(given to {', '.join(system_wide)})"
            )
        return value


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """A whole configuration directory, checked file by file and across files."""

    deployment: Deployment
    directory: Directory
    # The referral checklists, input limits, localities and decline reasons.
    pathways: PathwaysConfig
    clients: tuple[RegisteredClient, ...] = ()
    agreement_entries: tuple[AgreementEntry, ...] = ()
    # How each Trust's system is reached (push), or that it pulls.
    endpoints: Endpoints = field(default_factory=Endpoints)
    # Each receiver's agreed escalation ladder, with its deadlines.
    ladders: Ladders = field(default_factory=Ladders)
    # The access log's witnesses, the logs witnessed for others, retired signing keys.
    audit_log: AuditLogConfig = field(default_factory=AuditLogConfig)
    # Looked up on every request: by id, not by scanning the list.
    _clients_by_id: dict[str, RegisteredClient] = field(init=False, repr=False, compare=False)
    # The agreements as the decision point takes them, built once per load.
    agreements: tuple[Agreement, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {client.client_id: client for client in self.clients}
        object.__setattr__(self, "_clients_by_id", by_id)
        agreements = tuple(entry.agreement() for entry in self.agreement_entries)
        object.__setattr__(self, "agreements", agreements)

    def client(self, client_id: str) -> RegisteredClient | None:
        return self._clients_by_id.get(client_id)

    @property
    def system_wide_ig_lead(self) -> RegisteredClient | None:
        """The one IG lead who sees every organisation's events (clients.yaml
        `access_log: system-wide`), if the deployment registers one."""
        return next((c for c in self.clients if c.sees_every_organisation), None)

    def sees_every_organisation(self, client_id: str) -> bool:
        """Whether this client's listings span every organisation: an operator, or the
        system-wide IG lead. Everyone else sees its own organisation's."""
        registered = self.client(client_id)
        return registered is not None and (
            registered.role == "operator" or registered.sees_every_organisation
        )
