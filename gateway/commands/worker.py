"""`gateway worker`: delivery workers alone, for scale-out beside `gateway serve`.

Several processes (on several hosts) may run against one PostgreSQL: each claims
deliveries with a lease and FOR UPDATE SKIP LOCKED, so none is sent by two at once.
SIGTERM or Ctrl-C stops them (a delivery in flight is abandoned to its lease and sent
again later, under the same request id); SIGHUP reloads the configuration directory,
and then asks every other process on the store to (gateway.configuration.cluster), as
`gateway config reload` does; this process follows such requests too.
"""

from __future__ import annotations

import importlib.util
import signal
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

import anyio
import anyio.to_thread

from gateway.configuration.cluster import ClusterReloads
from gateway.configuration.loader import check_settings, load_config
from gateway.configuration.models import GatewayConfig
from gateway.deadline_sources import deadline_watcher, gateway_url
from gateway.exchange.metrics import DeliveryMetrics
from gateway.exchange.worker import DeliveryWorker, WorkerSettings, run_workers
from gateway.handovers.ladder_metrics import LadderCollector
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.deadlines import WatcherSettings
from gateway.platform.errors import ConfigurationError
from gateway.platform.heap import freeze_long_lived_heap
from gateway.platform.logging import configure_logging, get_logger
from gateway.platform.settings import Settings

log = get_logger(__name__)

# uvloop where installed (uvicorn[standard] brings it on Linux), as `gateway serve` runs
# under uvicorn: its C event loop and sockets cost a worker less CPU per delivery.
_LOOP = {"use_uvloop": importlib.util.find_spec("uvloop") is not None}


def worker_command(
    settings: Settings, count: int, *, metrics_at: tuple[str, int] | None = None
) -> int:
    """`metrics_at`: (host, port) to serve this process's metrics on, as `gateway serve`
    does at /metrics: the outbox (read at each scrape), and its own workers' attempts
    and circuit breakers, which only this process knows."""
    configure_logging(settings.effective_log_format, settings.log_level)
    config = load_config(settings.config_dir)
    check_settings(settings, config)
    database = Database(
        settings.database_url, pool_size=max(count, 2), timeouts=settings.database_timeouts
    )
    try:
        if not migrate.is_current(database):
            raise ConfigurationError(
                "the database schema is not current: run `gateway db upgrade` first"
            )
        metrics = DeliveryMetrics()
        freeze_long_lived_heap()
        with ExitStack() as listeners:
            if metrics_at is not None:
                host, port = metrics_at
                listeners.enter_context(metrics.served_at(host, port))
                log.info("worker.metrics_serving", host=host, port=port)
            anyio.run(_run, settings, database, config, count, metrics, backend_options=_LOOP)
    finally:
        database.dispose()
    return 0


async def _run(
    settings: Settings,
    database: Database,
    config: GatewayConfig,
    count: int,
    metrics: DeliveryMetrics,
) -> None:
    current = [config]
    stopping = anyio.Event()
    worker_settings = WorkerSettings.from_settings(settings)
    workers = [
        DeliveryWorker(database, lambda: current[0], settings=worker_settings, metrics=metrics)
        for _ in range(count)
    ]
    metrics.watch(
        database,
        lambda: [worker.breaker for worker in workers],
        lambda: current[0].endpoints.destinations,
    )
    metrics.registry.register(LadderCollector(database))
    watcher = deadline_watcher(
        database,
        lambda: current[0],
        settings=WatcherSettings.from_settings(settings),
        url=gateway_url(settings),
        on_queued=lambda: _ring(workers),
    )
    cluster = ClusterReloads(database, settings.config_dir, settings.config_poll_seconds)

    async def reload() -> bool:
        return await anyio.to_thread.run_sync(_reload, settings, current)

    async with anyio.create_task_group() as group:
        # Started once its signals are handled: a SIGHUP sent on seeing "worker.started"
        # must reload, never find Python's default (which ends the process).
        def started() -> None:
            log.info("worker.started", workers=count, pushes=config.endpoints.pushes)

        group.start_soon(_signals, reload, cluster, stopping, started)
        group.start_soon(cluster.follow, reload)
        group.start_soon(watcher.run, stopping)
        await run_workers(workers, stopping, database)
        group.cancel_scope.cancel()
    log.info("worker.stopped")


def _ring(workers: list[DeliveryWorker]) -> None:
    for worker in workers:
        worker.doorbell.ring()


async def _signals(
    reload: Callable[[], Awaitable[bool]],
    cluster: ClusterReloads,
    stopping: anyio.Event,
    started: Callable[[], None],
) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        started()
        async for received in signals:
            if received != signal.SIGHUP:
                stopping.set()
                return
            if await reload():
                await anyio.to_thread.run_sync(cluster.request, "SIGHUP")


def _reload(settings: Settings, current: list[GatewayConfig]) -> bool:
    try:
        config = load_config(settings.config_dir)
        check_settings(settings, config)
    except ConfigurationError as error:
        # The message names a file and field (or a client), never data; the old
        # configuration stays.
        log.warning("worker.config_reload_refused", problem=error.message)
        return False
    current[0] = config
    log.info("worker.config_reloaded")
    return True
