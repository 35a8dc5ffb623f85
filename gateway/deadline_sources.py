"""Every deadline the gateway keeps, for the watcher (gateway.platform.deadlines): one
list, so that `gateway serve` and `gateway worker` act on the same ones.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gateway.configuration.models import GatewayConfig
from gateway.handovers.ladder_deadlines import LadderDeadlines
from gateway.platform.clock import utc_now
from gateway.platform.database import Database
from gateway.platform.deadlines import DeadlineSource, DeadlineWatcher, WatcherSettings
from gateway.platform.settings import Settings
from gateway.safeguarding.overdue import OverdueSafeguarding

_EVERY_SECOND = WatcherSettings()


def deadline_sources(
    config: Callable[[], GatewayConfig],
    *,
    gateway_url: str,
    clock: Callable[[], datetime] = utc_now,
) -> list[DeadlineSource]:
    return [
        LadderDeadlines(config, gateway_url=gateway_url, clock=clock),
        OverdueSafeguarding(config, gateway_url=gateway_url, clock=clock),
    ]


def gateway_url(settings: Settings) -> str:
    """Where the gateway says it is, in the records and notices it makes itself."""
    return settings.public_base_url or f"http://{settings.host}:{settings.port}"


def deadline_watcher(
    database: Database,
    config: Callable[[], GatewayConfig],
    *,
    settings: WatcherSettings = _EVERY_SECOND,
    url: str = "http://127.0.0.1:8080",
    clock: Callable[[], datetime] = utc_now,
    on_queued: Callable[[], None] = lambda: None,
) -> DeadlineWatcher:
    """The watcher over every source, as `gateway serve` and `gateway worker` run it."""
    return DeadlineWatcher(
        database,
        deadline_sources(config, gateway_url=url, clock=clock),
        settings=settings,
        clock=clock,
        on_queued=on_queued,
    )
