"""Reloading the configuration without a restart (SIGHUP, or `gateway config reload`).

SIGHUP reloads this process and, once it has taken the new configuration, asks every
other process sharing the store to reload from its own directory
(gateway.configuration.cluster); `gateway config reload` asks them all through the store.

The new configuration is read and checked in full first; only then does it replace the
old one, in one assignment, so a request is decided by one configuration or the other,
never a mixture. A bad file leaves the running configuration in place. Either way the
attempt is in the access log.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from dataclasses import replace

import anyio.abc
import anyio.to_thread
from fastapi import FastAPI

from core.access_log.event import AuditOutcome
from core.codes.audit import Subtype
from gateway.access_log.gateway_events import record_gateway_event
from gateway.configuration.cluster import ClusterReloads
from gateway.configuration.directory_store import organization_rows
from gateway.configuration.directory_sync import sync_organisations
from gateway.configuration.loader import check_settings, load_config
from gateway.configuration.summary import expiring, load_summary
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.errors import ConfigurationError
from gateway.platform.logging import get_logger
from gateway.platform.runtime import Runtime

log = get_logger(__name__)


async def reload_configuration(app: FastAPI) -> bool:
    """Read, check and apply the configuration directory; False if it was refused."""
    runtime: Runtime = app.state.runtime
    return await anyio.to_thread.run_sync(_reload, app, runtime)


def _reload(app: FastAPI, runtime: Runtime) -> bool:
    try:
        config = load_config(runtime.settings.config_dir)
        check_settings(runtime.settings, config)
    except ConfigurationError as error:
        log.error("config.reload_refused", problem=error.message)
        with runtime.database.write() as connection:
            record_gateway_event(
                connection,
                runtime,
                Subtype.CONFIGURATION_LOAD,
                f"Configuration reload refused, the running one kept: {error.message}",
                outcome=AuditOutcome.MINOR_FAILURE,
            )
        return False
    reloaded = replace(runtime, config=config)
    apply_directory(reloaded, "reloaded")
    app.state.runtime = reloaded
    return True


def apply_directory(runtime: Runtime, verb: str) -> None:
    """Sync the organisations to Organization resources and record the load."""
    config = runtime.config
    with runtime.database.write() as connection:
        # The directory is configuration: no Subscription is about it.
        store = ResourceStore(connection)
        # Processes sharing the store load and reload together (a start, a reload asked of
        # every process): one at a time, each reading what the one before it committed,
        # or two would update the same Organization at once and one fail its reload.
        store.serialise_on("configuration:directory-sync")
        service = ResourceService(store, runtime.paging, changes=None)
        rows = organization_rows(connection)
        report = sync_organisations(service, rows, config.directory.organisations)
        record_gateway_event(
            connection, runtime, Subtype.CONFIGURATION_LOAD, load_summary(config, verb)
        )
    log.info(
        f"config.{verb}",
        config_dir=str(runtime.settings.config_dir),
        organisations=len(config.directory.organisations),
        clients=len(config.clients),
        agreements=len(config.agreements),
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        retired=report.retired,
    )
    for entry in expiring(config, runtime.clock()):
        log.warning(
            "config.agreement_expiring",
            agreement=entry.label,
            valid_to=entry.valid_to.isoformat() if entry.valid_to else None,
        )


def follow_cluster_reloads(app: FastAPI, background: anyio.abc.TaskGroup) -> ClusterReloads:
    """Reload whenever any process asks every process on the store to."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    cluster = ClusterReloads(runtime.database, settings.config_dir, settings.config_poll_seconds)

    async def reload() -> bool:
        return await reload_configuration(app)

    background.start_soon(cluster.follow, reload)
    return cluster


def install_reload_on_hangup(
    app: FastAPI, background: anyio.abc.TaskGroup, cluster: ClusterReloads | None = None
) -> bool:
    """SIGHUP reloads, where this process can take signals (its main thread); once taken,
    the reload is asked of every process on the store (`cluster`)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    loop = asyncio.get_running_loop()
    # The handler runs as a bare loop callback, outside any task, where anyio cannot
    # start one (with sniffio installed it cannot even tell which loop it is on): it
    # only sets an event, and a task of the lifespan's group does the reload.
    asked = asyncio.Event()

    async def reload_when_asked() -> None:
        while True:
            await asked.wait()
            asked.clear()
            try:
                reloaded = await reload_configuration(app)
            except Exception:  # the lifespan's tasks must outlive a failed reload
                # E.g. the store could not record it: the running configuration stays.
                log.exception("config.reload_failed")
                continue
            if reloaded and cluster is not None:
                await anyio.to_thread.run_sync(cluster.request, "SIGHUP")

    try:
        loop.add_signal_handler(signal.SIGHUP, asked.set)
    except (NotImplementedError, RuntimeError):
        return False
    background.start_soon(reload_when_asked)
    return True
