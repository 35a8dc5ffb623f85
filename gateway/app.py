"""The composition root: settings and configuration in, a ready FastAPI application out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import replace
from datetime import datetime

import anyio
from fastapi import FastAPI

from gateway.access_log import routes as audit_routes
from gateway.access_log import witness_routes
from gateway.access_log.group_commit import GroupCommit
from gateway.access_log.recording import (
    commit_in_own_transaction,
    record_repeated_refusals,
    write_repeated_refusals,
)
from gateway.access_log.sequencing_task import sequence_audit_log
from gateway.access_log.witness_sender import WitnessSender
from gateway.access_log.witnessing_task import WitnessMetrics, witness_audit_log
from gateway.auth import registrations_routes as registrations
from gateway.auth import routes as oauth
from gateway.configuration.reload import (
    apply_directory,
    follow_cluster_reloads,
    install_reload_on_hangup,
)
from gateway.deadline_sources import deadline_watcher, gateway_url
from gateway.exchange import routes as deliveries
from gateway.exchange.metrics import DeliveryMetrics
from gateway.exchange.worker import DeliveryWorker, WorkerSettings, run_workers
from gateway.fhir import routes as fhir_rest
from gateway.fhir import schema_check as fhir_schema
from gateway.handovers import messaging_routes as messaging
from gateway.handovers import review_routes
from gateway.handovers import routes as datasets
from gateway.handovers.ladder_metrics import LadderCollector
from gateway.platform.deadlines import WatcherSettings
from gateway.platform.heap import freeze_long_lived_heap, release_long_lived_heap
from gateway.platform.logging import configure_logging, get_logger
from gateway.platform.runtime import Runtime, build_runtime
from gateway.platform.settings import Settings
from gateway.platform.transactions import TransactionGate
from gateway.safeguarding import restriction_routes
from gateway.safeguarding import routes as safeguarding
from gateway.sharing import agreements_routes as agreements
from gateway.subscriptions import routes as subscriptions
from gateway.web import health, metrics
from gateway.web.errors import install_error_handlers
from gateway.web.middleware import RequestContextMiddleware
from gateway.web.openapi_document import install_openapi_document
from gateway.web.refused_methods import RoutedMethods

log = get_logger(__name__)


def load_directory(runtime: Runtime) -> None:
    # The load itself is in the access log: what configuration the gateway ran with.
    apply_directory(runtime, "loaded")


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """`clock`: the wall clock the runtime reads where a test must move time.
    `freeze_heap`: the serving process's heap is frozen once started (gateway.platform.heap)."""
    settings = settings or Settings()
    configure_logging(settings.effective_log_format, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings, clock=clock)
        fhir_schema.load()
        load_directory(runtime)
        runtime = replace(runtime, gate=TransactionGate(runtime.database))
        runtime = replace(runtime, audit_writer=GroupCommit(commit_in_own_transaction(runtime)))
        app.state.runtime = runtime
        app.state.started_at = runtime.clock()
        if freeze_heap:
            freeze_long_lived_heap()
        try:
            # An anyio task group, so that stopping honours the transaction gate's
            # shielded sections: a sequencer run in flight finishes its transaction.
            async with anyio.create_task_group() as background:
                background.start_soon(sequence_audit_log, runtime)
                background.start_soon(record_repeated_refusals, runtime)
                stopping = anyio.Event()
                metrics = DeliveryMetrics()
                workers = [
                    DeliveryWorker(
                        runtime.database,
                        lambda: app.state.runtime.config,
                        settings=WorkerSettings.from_settings(settings),
                        metrics=metrics,
                    )
                    for _ in range(settings.delivery_workers)
                ]
                metrics.watch(
                    runtime.database,
                    lambda: [w.breaker for w in workers],
                    lambda: app.state.runtime.config.endpoints.destinations,
                )
                for worker in workers:
                    runtime.worker_doorbells.add(worker.doorbell)
                metrics.registry.register(LadderCollector(runtime.database, runtime.clock))
                app.state.metrics = metrics
                if runtime.config.audit_log.witnesses:
                    background.start_soon(
                        witness_audit_log,
                        runtime,
                        WitnessSender(runtime.config.audit_log.witnesses),
                        WitnessMetrics(metrics.registry),
                    )
                background.start_soon(run_workers, workers, stopping, runtime.database)
                watcher = deadline_watcher(
                    runtime.database,
                    lambda: app.state.runtime.config,
                    settings=WatcherSettings.from_settings(settings),
                    url=gateway_url(settings),
                    clock=runtime.clock,
                    on_queued=runtime.worker_doorbells.ring,
                )
                background.start_soon(watcher.run, stopping)
                cluster = follow_cluster_reloads(app, background)
                install_reload_on_hangup(app, background, cluster)
                with ExitStack() as listeners:
                    if settings.metrics_port is not None:
                        listeners.enter_context(
                            metrics.served_at(settings.metrics_host, settings.metrics_port)
                        )
                    yield
                stopping.set()
                # Before the log's writers stop: a stopping process loses no count.
                await write_repeated_refusals(runtime, runtime.refusals.everything())
                background.cancel_scope.cancel()
        finally:
            runtime.database.dispose()
            if freeze_heap:
                release_long_lived_heap()

    app = FastAPI(
        title="Mental-health interface gateway",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Out of prod unless asked for: a map of every route for whoever reaches the port.
        openapi_url="/openapi.json" if settings.serves_openapi else None,
    )
    install_error_handlers(app)
    install_openapi_document(app)
    routers = (
        health.router,
        oauth.router,
        fhir_rest.open_router,
        # Before the generic FHIR routes, which would answer AuditEvent as an unknown type.
        audit_routes.fhir_router,
        audit_routes.router,
        witness_routes.router,
        # Before the generic /fhir/{resource_type} routes, which would take $process-message.
        messaging.router,
        # Before them too: a Subscription is the gateway's own, not a stored record type.
        subscriptions.router,
        fhir_rest.router,
        datasets.router,
        datasets.open_router,
        review_routes.router,
        restriction_routes.router,
        safeguarding.router,
        deliveries.router,
        agreements.router,
        registrations.router,
        # In prod, metrics are on their own listener only (GATEWAY_METRICS_PORT).
        *((metrics.router,) if settings.env == "dev" else ()),
    )
    for router in routers:
        app.include_router(router)
    # What a 405 answers in Allow: the methods some route takes at the path.
    app.state.routed_methods = RoutedMethods.of(routers)
    app.add_middleware(RequestContextMiddleware, timeout_seconds=settings.request_timeout_seconds)
    return app
