"""The runtime: everything built once at start-up and shared by all requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from core.search.query import PagingLimits
from gateway.access_log.group_commit import GroupCommit
from gateway.access_log.keys import CheckpointSigner, KeyHistory
from gateway.access_log.repeated_refusals import RepeatedRefusals
from gateway.access_log.sequencer import Sequencer
from gateway.auth.access_tokens import AccessTokens
from gateway.auth.rate_limit import RateLimiter
from gateway.configuration.models import GatewayConfig
from gateway.exchange.doorbell import Doorbells
from gateway.platform.clock import utc_now
from gateway.platform.database import Database
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


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def gate(runtime: Runtime) -> TransactionGate:
    if runtime.gate is None:
        raise RuntimeError("the runtime's transaction gate is built in the app's lifespan")
    return runtime.gate
