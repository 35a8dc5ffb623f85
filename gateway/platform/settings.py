"""Runtime settings, read once from the environment (prefix GATEWAY_) by the entry points."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.platform.database import DatabaseTimeouts

DEFAULT_DATABASE_URL = "sqlite:///var/gateway.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", frozen=True, extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    database_url: str = DEFAULT_DATABASE_URL
    config_dir: Path = Path("config/demo")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # The base URL clients see (behind a proxy); links in Bundles are built from it.
    public_base_url: str | None = None
    # The reverse proxies in front of `gateway serve` (addresses or networks, comma-
    # separated): the only peers whose X-Forwarded-For and X-Forwarded-Proto are believed.
    # In prod, the gateway serves HTTPS itself (tls_certificate) or names these.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # Prometheus metrics on a listener of their own (gateway serve): never on the API's
    # port in prod. In dev /metrics is on the API's port as well.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # The OpenAPI document at /openapi.json: served in dev; in prod only when set true.
    openapi: bool | None = None

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_json_depth: int = Field(default=32, ge=4, le=256)
    max_array_length: int = Field(default=1000, ge=10)
    default_page_size: int = Field(default=20, ge=1)
    max_page_size: int = Field(default=100, ge=1)
    # How long the page links of a POST _search can be followed (its parameters are kept
    # server-side for that long, and as long again to tell a late follower it expired).
    search_page_lifetime_seconds: int = Field(default=900, ge=60, le=86_400)

    # The gateway's token-signing key (EC P-256, PEM). Generated here on first start in
    # dev; production must provision it (and share it across processes).
    token_signing_key: Path = Path("var/keys/token-signing-key.pem")
    token_lifetime_seconds: int = Field(default=300, ge=30, le=300)
    # Per client, unless its registration says otherwise (a token bucket).
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=40, ge=1)
    # Where the per-client buckets are kept: `database` (one bucket per client shared by
    # every process on the PostgreSQL store, so N processes admit the configured rate,
    # not N times it), `process` (each process its own), or `auto`: database on
    # PostgreSQL, process on SQLite (one process by design). Anonymous and token-endpoint
    # limits are per process and address always.
    rate_limit_scope: Literal["auto", "process", "database"] = "auto"
    # The longest a request may wait (for its body, or for a database slot) before it
    # is answered 503; work already running in a thread finishes first.
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    # HTTP limits (gateway serve, see gateway/web/http_limits.py): a request head's size and
    # field count (431 beyond), how long a connection may take to send a head before it
    # is closed, and how many connections one source address may hold (503 beyond).
    http_max_header_bytes: int = Field(default=32_768, ge=1024)
    http_max_headers: int = Field(default=100, ge=8)
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    http_max_connections_per_source: int = Field(default=64, ge=1)
    # Requests with no valid access token, and token requests, per source address (token
    # buckets, per process), so that neither can be flooded (429 beyond).
    anonymous_rate_limit_per_second: float = Field(default=2.0, gt=0)
    anonymous_rate_limit_burst: int = Field(default=20, ge=1)
    token_rate_limit_per_second: float = Field(default=2.0, gt=0)
    token_rate_limit_burst: int = Field(default=20, ge=1)
    # Repeated identical refusals of anonymous requests from one address are recorded as
    # one AuditEvent per window carrying their count (the first at once).
    refusal_window_seconds: int = Field(default=60, ge=1, le=3600)
    # Mutual TLS (gateway serve): the server's certificate and key, and the CA whose
    # client certificates it requires. With a client CA, every call must present a
    # certificate registered to the client its token was issued to.
    tls_certificate: Path | None = None
    tls_private_key: Path | None = None
    tls_client_ca: Path | None = None

    # The access log's checkpoint-signing key (Ed25519, PEM): generated in dev, provisioned
    # in production. A checkpoint is signed every N events or T seconds with events
    # waiting; the sequencer looks for new events every `audit_sequence_interval_seconds`.
    audit_signing_key: Path = Path("var/keys/audit-signing-key.pem")
    # Or a file descriptor the process inherits, open on the PEM (read once at start, then
    # closed), so the key need not be a file the service can read again. In prod the key
    # may not be in the SQLite store's directory.
    audit_signing_key_fd: int | None = Field(default=None, ge=0)
    audit_checkpoint_every_events: int = Field(default=1000, ge=1)
    audit_checkpoint_every_seconds: float = Field(default=10.0, gt=0)
    audit_sequence_interval_seconds: float = Field(default=1.0, gt=0)
    # How often the newest checkpoint is sent to the witnesses in audit-log.yaml (a
    # witness that is down is retried each time, from what it holds).
    audit_witness_interval_seconds: float = Field(default=5.0, gt=0)

    # Delivery workers `gateway serve` runs in its own process (0: none, for deployments
    # that run `gateway worker` processes instead). Idle unless an endpoint takes pushes.
    delivery_workers: int = Field(default=1, ge=0, le=16)
    # How long a worker owns a delivery it claimed: if it dies, another worker sends the
    # delivery again (same request id) once this has passed. Longer than a read timeout.
    delivery_lease_seconds: float = Field(default=60, gt=0, le=3600)
    # How often an idle worker looks for due deliveries: the floor of enqueue-to-send.
    delivery_poll_seconds: float = Field(default=0.1, gt=0, le=60)
    # A Subscription whose notifications fail this many times in a row (each a retried
    # attempt) is set to error and notified of nothing more (a dead-lettered one at once).
    subscription_failure_limit: int = Field(default=5, ge=1, le=1000)
    # How often each process looks for escalation steps past their deadline: a missed
    # step is acted on within this. At 1 s a step-up reaches a push receiver within 2 s
    # of its deadline, p99; at 5 s it took up to 6 (bench/README.md, "Escalation
    # deadlines"). A look costs well under a millisecond at 100k open steps.
    deadline_poll_seconds: float = Field(default=1, gt=0, le=50)

    # How often each process reads the store's configuration generation, to reload when
    # `gateway config reload` (or SIGHUP to any process) asked every process sharing the
    # store to. On PostgreSQL a NOTIFY brings it at once; this read is the fallback.
    config_poll_seconds: float = Field(default=2.0, gt=0, le=300)

    # Where `gateway serve` writes its process id (SIGHUP reloads it, and through the
    # store every other process).
    pid_file: Path = Path("var/run/gateway.pid")
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    # How long the server and workers wait on the database before answering 503
    # transient (docs/operating.md): to connect (PostgreSQL: whole seconds, at least 2),
    # for a lock (SQLite: busy timeout), for one statement, and how long a transaction
    # may sit idle. Each below the request timeout, so the database gives up first.
    db_connect_timeout_seconds: int = Field(default=5, ge=2, le=60)
    db_lock_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    db_statement_timeout_seconds: float = Field(default=15.0, gt=0, le=3600)
    db_idle_in_transaction_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # A connection to a database that vanished (a partition) is given up after this
    # long without its data being acknowledged (Linux tcp_user_timeout; keepalives too).
    db_dead_connection_seconds: float = Field(default=20.0, ge=1, le=600)
    # /readyz answers within about this long, whatever the database does.
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] | None = None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> tuple[str, ...]:
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list | tuple):
            raise ValueError("trusted_proxies: addresses or networks, comma-separated")
        networks = []
        for entry in (str(item).strip() for item in entries):
            if not entry:
                continue
            try:
                network = ipaddress.ip_network(entry)
            except ValueError:
                raise ValueError(
                    "trusted_proxies: each entry is an IP address or a network such as "
                    "10.0.0.0/24 (without host bits)"
                ) from None
            if network.prefixlen == 0:
                raise ValueError("trusted_proxies: name the proxies, not every address")
            networks.append(str(network))
        return tuple(networks)

    @model_validator(mode="after")
    def _page_sizes_agree(self) -> Settings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size must not exceed max_page_size")
        return self

    @model_validator(mode="after")
    def _tls_files_together(self) -> Settings:
        if (self.tls_certificate is None) != (self.tls_private_key is None):
            raise ValueError("tls_certificate and tls_private_key are set together")
        if self.tls_client_ca is not None and self.tls_certificate is None:
            raise ValueError("tls_client_ca (mutual TLS) needs tls_certificate and key")
        return self

    @model_validator(mode="after")
    def _database_gives_up_first(self) -> Settings:
        waits = (self.db_lock_timeout_seconds, self.db_statement_timeout_seconds)
        if max(waits) >= self.request_timeout_seconds:
            raise ValueError(
                "db_lock_timeout_seconds and db_statement_timeout_seconds must be below "
                "request_timeout_seconds, so a request is answered by the database's timeout"
            )
        return self

    @property
    def database_timeouts(self) -> DatabaseTimeouts:
        return DatabaseTimeouts(
            connect=self.db_connect_timeout_seconds,
            lock=self.db_lock_timeout_seconds,
            statement=self.db_statement_timeout_seconds,
            idle_in_transaction=self.db_idle_in_transaction_timeout_seconds,
            unacknowledged=self.db_dead_connection_seconds,
        )

    @property
    def serves_openapi(self) -> bool:
        return self.openapi if self.openapi is not None else self.env == "dev"

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env == "prod" else "console"
