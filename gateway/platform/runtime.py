"""The runtime: everything built once at start-up and shared by all requests, and its
building (which `gateway serve` and the operator commands share: no HTTP here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.search.query import PagingLimits
from gateway.access_log.group_commit import GroupCommit
from gateway.access_log.keys import CheckpointSigner, KeyHistory, load_audit_signing_key
from gateway.access_log.repeated_refusals import RepeatedRefusals
from gateway.access_log.sequencer import Sequencer, SequencingPolicy
from gateway.auth.access_tokens import AccessTokens
from gateway.auth.rate_limit import RateLimiter
from gateway.auth.shared_rate_limit import SharedRateLimiter
from gateway.auth.signing_key import load_signing_key
from gateway.configuration.loader import check_settings, load_config
from gateway.configuration.models import GatewayConfig
from gateway.exchange.doorbell import Doorbells
from gateway.platform import migrate
from gateway.platform.clock import utc_now
from gateway.platform.database import Database
from gateway.platform.errors import ConfigurationError
from gateway.platform.settings import Settings
from gateway.platform.transactions import TransactionGate


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything built once at start-up and shared by all requests."""

    settings: Settings
    config: GatewayConfig
    database: Database
    tokens: AccessTokens
    rate_limiter: RateLimiter
    # Signs the access log's checkpoints; the sequencer gives events their positions.
    audit_key: CheckpointSigner
    # Every key that signed the log (the current one and those retired), for verifying.
    audit_keys: KeyHistory
    sequencer: Sequencer
    # Client rate limits kept in the store for every process sharing it (PostgreSQL),
    # None where each process keeps its own (rate_limiter): settings.rate_limit_scope.
    shared_rate_limiter: SharedRateLimiter | None = None
    # Built in the lifespan, inside the event loop their semaphores and locks belong to.
    gate: TransactionGate | None = None
    audit_writer: GroupCommit | None = None
    # Rung after a write commits (it may have queued deliveries), waking this process's
    # idle delivery workers: SQLite has no NOTIFY, and PostgreSQL's comes a little later.
    worker_doorbells: Doorbells = field(default_factory=Doorbells)
    # The wall clock, passed in so that tests can move it (search page-reference expiry).
    clock: Callable[[], datetime] = field(default=utc_now)
    # Anonymous refusals counted, not yet written (see gateway.access_log.repeated_refusals).
    refusals: RepeatedRefusals = field(default_factory=lambda: RepeatedRefusals(60))

    @property
    def paging(self) -> PagingLimits:
        return PagingLimits(self.settings.default_page_size, self.settings.max_page_size)


def gate(runtime: Runtime) -> TransactionGate:
    if runtime.gate is None:
        raise RuntimeError("the runtime's transaction gate is built in the app's lifespan")
    return runtime.gate


def build_runtime(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Runtime:
    config = load_config(settings.config_dir)
    check_settings(settings, config)
    database = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        timeouts=settings.database_timeouts,
    )
    if not migrate.is_current(database):
        database.dispose()
        raise ConfigurationError(
            "the database schema is not current: run `gateway db upgrade` first"
        )
    signing_key = load_signing_key(
        settings.token_signing_key, generate_if_missing=settings.env == "dev"
    )
    tokens = AccessTokens(
        signing_key,
        issuer=f"urn:mh-gateway:{config.deployment.name}",
        lifetime_seconds=settings.token_lifetime_seconds,
    )
    audit_key = load_audit_signing_key(
        settings.audit_signing_key,
        name=audit_log_origin(config),
        generate_if_missing=settings.env == "dev",
        descriptor=settings.audit_signing_key_fd,
    )
    audit_keys = KeyHistory.of(audit_key, config.audit_log.retired_signing_keys)
    if len(audit_keys.public_keys) != len(config.audit_log.retired_signing_keys) + 1:
        raise ConfigurationError(
            "the audit checkpoint key (GATEWAY_AUDIT_SIGNING_KEY) is also listed in "
            "audit-log.yaml retired_signing_keys: a retired key signs no more"
        )
    policy = SequencingPolicy(
        checkpoint_every_events=settings.audit_checkpoint_every_events,
        checkpoint_every=timedelta(seconds=settings.audit_checkpoint_every_seconds),
    )
    return Runtime(
        settings=settings,
        config=config,
        database=database,
        tokens=tokens,
        rate_limiter=RateLimiter(),
        shared_rate_limiter=shared_rate_limiter(settings, database),
        audit_key=audit_key,
        audit_keys=audit_keys,
        sequencer=Sequencer(audit_key, policy),
        clock=clock or utc_now,
        refusals=RepeatedRefusals(settings.refusal_window_seconds),
    )


def shared_rate_limiter(settings: Settings, database: Database) -> SharedRateLimiter | None:
    scope = settings.rate_limit_scope
    if scope == "auto":
        scope = "database" if database.dialect == "postgresql" else "process"
    if scope == "process":
        return None
    if database.dialect != "postgresql":
        database.dispose()
        raise ConfigurationError(
            "GATEWAY_RATE_LIMIT_SCOPE=database needs a PostgreSQL store; SQLite is one "
            "process, whose own limiter holds (process or auto)"
        )
    return SharedRateLimiter(database)


def audit_log_origin(config: GatewayConfig) -> str:
    """The checkpoints' origin line (and signing key name): one per deployment."""
    return f"mh-gateway/{config.deployment.name}/audit"


def preflight(settings: Settings) -> None:
    """Everything start-up checks, run before the server binds its port, so an operator
    sees one clear error (and exit status 2) rather than a failed ASGI lifespan."""
    build_runtime(settings).database.dispose()
