"""endpoints.yaml: how the gateway reaches each Trust's system, and whom to call.

    endpoints:
      - ods: RZZ
        mode: push                      # push: the gateway delivers; pull: the Trust fetches
        base_url: https://crisis.rzz.example.nhs.uk/fhir
        send: process-message           # a BaRS message Bundle to {base_url}/$process-message,
                                        # or transaction: a transaction Bundle to {base_url}
        timeouts: {connect_seconds: 5, read_seconds: 15}
        authentication:                 # either or both
          smart: {token_url: https://.../token, client_id: mh-gateway,
                  private_key_file: keys/rzz-client.pem, key_id: rzz-1, algorithm: ES384}
          mtls: {certificate_file: keys/rzz-tls.crt, private_key_file: keys/rzz-tls.key}
        concurrency: 4                  # deliveries in flight to this endpoint at once
        retry: {base_seconds: 2, cap_seconds: 300, max_attempts: 12, max_age_hours: 24}
        contacts:
          front-line: {name: Crisis line, telephone: "0300 000 0000"}
        notification_urls:              # where its Subscriptions may be notified, besides
          - https://alerts.rzz.example.nhs.uk/hooks   # under base_url (docs/subscriptions.md)

An organisation without an entry is not delivered to: what is addressed to it waits to
be pulled. A file that names an organisation the directory lacks stops the start. A
pull endpoint may carry a base_url too: it pulls deliveries, and its Subscriptions'
notifications may go under it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from core.handover.dataset import EscalationLevel
from gateway.configuration.fields import OdsCode


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Timeouts(_Strict):
    connect_seconds: float = Field(default=5, gt=0, le=60)
    read_seconds: float = Field(default=15, gt=0, le=300)


class RetryPolicy(_Strict):
    """Exponential backoff with full jitter: attempt n waits a random time up to
    min(cap, base * 2**n), or at least what Retry-After asks; after max_attempts, or once
    the first attempt is max_age_hours old, the delivery is dead-lettered."""

    base_seconds: float = Field(default=2, gt=0, le=3600)
    cap_seconds: float = Field(default=300, gt=0, le=86_400)
    max_attempts: int = Field(default=12, ge=1, le=1000)
    max_age_hours: float = Field(default=24, gt=0, le=24 * 30)


class Contact(_Strict):
    name: str = Field(min_length=1, max_length=200)
    telephone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")


class SmartClient(_Strict):
    """SMART Backend Services: the gateway authenticates to the Trust's token endpoint
    with a JWT signed by its private key for that Trust (the Trust holds the public one)."""

    token_url: HttpUrl
    client_id: str = Field(min_length=1, max_length=200)
    private_key_file: Path  # PEM, relative to the configuration directory
    key_id: str = Field(min_length=1, max_length=200)
    algorithm: Literal["ES384", "RS384"] = "ES384"
    scope: str = Field(default="system/ServiceRequest.c system/Communication.c", max_length=1000)


class MutualTls(_Strict):
    """A client certificate the gateway presents to the Trust, and the CA it trusts."""

    certificate_file: Path
    private_key_file: Path
    ca_file: Path | None = None


class Authentication(_Strict):
    smart: SmartClient | None = None
    mtls: MutualTls | None = None


class Endpoint(_Strict):
    ods: OdsCode
    mode: Literal["push", "pull"]
    base_url: HttpUrl | None = None
    send: Literal["process-message", "transaction"] = "process-message"
    timeouts: Timeouts = Timeouts()
    concurrency: int = Field(default=4, ge=1, le=64)
    retry: RetryPolicy = RetryPolicy()
    authentication: Authentication = Authentication()
    # Whom to call at each step of the escalation ladder.
    contacts: dict[EscalationLevel, Contact] = Field(default_factory=dict)
    # URLs its Subscriptions' notifications may go under besides base_url (an explicit
    # allow-list: a client can never have the gateway call anywhere else).
    notification_urls: tuple[HttpUrl, ...] = Field(default=(), max_length=20)

    @model_validator(mode="after")
    def _push_needs_a_url(self) -> Endpoint:
        if self.mode == "push" and self.base_url is None:
            raise ValueError("a push endpoint needs base_url")
        return self

    @property
    def notification_bases(self) -> tuple[str, ...]:
        """The URLs a Subscription of this organisation may be notified under."""
        bases = (
            (self.base_url, *self.notification_urls) if self.base_url else self.notification_urls
        )
        return tuple(str(url) for url in bases)

    @property
    def process_message_url(self) -> str:
        return str(self.base_url).rstrip("/") + "/$process-message"

    @property
    def delivery_url(self) -> str:
        """Where each delivery is POSTed: the message operation, or the base itself for
        a transaction (FHIR R4 RESTful API, "transaction")."""
        if self.send == "transaction":
            return str(self.base_url).rstrip("/")
        return self.process_message_url


class Endpoints(_Strict):
    endpoints: tuple[Endpoint, ...] = ()

    @model_validator(mode="after")
    def _one_per_organisation(self) -> Endpoints:
        codes = [endpoint.ods for endpoint in self.endpoints]
        if len(codes) != len(set(codes)):
            raise ValueError("each organisation may have one endpoint")
        return self

    @property
    def pushes(self) -> bool:
        """Whether any receiver takes pushes (else delivery workers have nothing to do)."""
        return any(endpoint.mode == "push" for endpoint in self.endpoints)

    @property
    def push_destinations(self) -> list[str]:
        """The ODS codes of the receivers that take pushes."""
        return [endpoint.ods for endpoint in self.endpoints if endpoint.mode == "push"]

    @property
    def sends(self) -> bool:
        """Whether the gateway sends anything at all: deliveries, or notifications."""
        return bool(self.destinations)

    @property
    def destinations(self) -> list[str]:
        """The ODS codes of the organisations the gateway sends to: those that take
        pushes, and those whose Subscriptions may be notified."""
        return [
            endpoint.ods
            for endpoint in self.endpoints
            if endpoint.mode == "push" or endpoint.notification_bases
        ]

    def notification_endpoint(self, ods: str) -> Endpoint | None:
        """The endpoint whose URLs, authentication, timeouts and retries `ods`'s
        Subscriptions are notified with, if any URL is configured for them."""
        for endpoint in self.endpoints:
            if endpoint.ods == ods and endpoint.notification_bases:
                return endpoint
        return None

    def push_endpoint(self, ods: str) -> Endpoint | None:
        """The endpoint the gateway delivers to for `ods`, if it delivers at all."""
        for endpoint in self.endpoints:
            if endpoint.ods == ods and endpoint.mode == "push":
                return endpoint
        return None
