"""Where a delivery's time goes: a DeliveryWorker in process, under cProfile.

On the store the run measured (emptied), with the run's configuration (RZZ pushing to
the receiver, which runs in its own process as in the drains): a `DeliveryWorker` built
as `gateway worker` builds it (its settings from the environment's Settings, the
command's Database), calling `run_once` until the outbox is empty. Everything runs on
this thread: the work the worker hands to threads (the claim, each consent re-check,
each outcome) is run inline (`anyio.to_thread.run_sync` replaced), so cProfile, which
sees one thread, sees all of it; the sends of a batch still overlap (up to the
endpoint's concurrency) while nothing else waits. First `WARMUP` deliveries drained
untimed, then `deliveries` timed without the profiler (**ms per delivery**, one worker
with no thread hand-offs), then as many under it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.outbox.deliveries import Deliveries, enqueue
from bench.outbox.measure import clear, pending
from bench.outbox.processes import ReceiverProcess
from bench.profiling import figures, inline_threads, own_time_table, timed, under_profiler
from bench.report import markdown_table
from gateway.configuration.loader import load_config
from gateway.exchange.worker import DeliveryWorker, WorkerSettings
from gateway.platform.database import Database

WARMUP = 64
TOP = 25

# What the report shows of the profile (bench/profiling.py's Selected).
SELECTED = (
    ("DeliveryWorker.run_once (all of it)", "gateway/exchange/worker.py", "run_once"),
    ("- claim (OutboxStore.claim)", "gateway/exchange/outbox.py", "claim"),
    ("- consent re-check (DeliveryWorker._refusals)", "gateway/exchange/worker.py", "_refusals"),
    ("-- refusals_at_send", "gateway/sharing/delivery_check.py", "refusals_at_send"),
    ("--- json.loads (the kept sharing facts)", "json/__init__.py", "loads"),
    ("--- SharingPolicy.on_share (the decisions)", "gateway/sharing/policy.py", "on_share"),
    ("--- the round's Consents read", "gateway/sharing/policy.py", "read_consents"),
    ("- send (EndpointSender.send)", "gateway/exchange/sender.py", "send"),
    ("-- httpx AsyncClient.post", "httpx/_client.py", "post"),
    ("- outcomes (DeliveryWorker._record_all)", "gateway/exchange/worker.py", "_record_all"),
    ("-- OutboxStore.record", "gateway/exchange/outbox.py", "record"),
    ("-- the attempts' AuditEvents (AuditLog.append)", "gateway/access_log/log.py", "append"),
    ("transaction begin and commit (Database.read/write)", "gateway/platform/database.py", "read"),
    ("", "gateway/platform/database.py", "write"),
    ("- pool checkout pre-ping (pool_pre_ping)", "sqlalchemy/pool/base.py", "_do_ping_w_event"),
    ("", "sqlalchemy/engine/default.py", "_do_ping_w_event"),
    ("new database connections (psycopg connect)", "psycopg/connection.py", "connect"),
    ("SQL statements (Connection.execute)", "sqlalchemy/engine/base.py", "execute"),
    ("- psycopg: waiting on the server (connection wait)", "psycopg/connection.py", "wait"),
    ("log lines (structlog: processors, redaction, rendering)", "structlog/_native.py", "meth"),
)


@dataclass
class Profiled:
    deliveries: int
    ms_per_delivery: float  # no profiler
    profiled_ms_per_delivery: float
    rounds: int  # run_once calls that claimed something, profiled
    # label -> (calls per delivery, cumulative ms per delivery)
    selected: dict[str, tuple[float, float]] = field(default_factory=dict)
    # (function, calls per delivery, own ms per delivery, cumulative ms per delivery)
    own: list[tuple[str, float, float, float]] = field(default_factory=list)


def profile_worker(
    database: Database,
    receiver: ReceiverProcess,
    config_dir: Path,
    *,
    deliveries: int,
    first_patient: int,
    log: Callable[[str], None],
) -> Profiled:
    clear(database, receiver)
    config = load_config(config_dir)
    made = Deliveries(f"{receiver.fhir}/$process-message", first=first_patient)
    # The command's own Database: pool_size max(workers, 2), SQLAlchemy's overflow 20.
    worker_database = Database(str(database.url.render_as_string(hide_password=False)), pool_size=2)
    worker = DeliveryWorker(worker_database, lambda: config, settings=WorkerSettings())
    try:
        with inline_threads():
            return asyncio.run(_profile(database, worker, made, deliveries, log))
    finally:
        worker_database.dispose()


async def _profile(
    database: Database,
    worker: DeliveryWorker,
    made: Deliveries,
    deliveries: int,
    log: Callable[[str], None],
) -> Profiled:
    async def drain() -> int:
        rounds = 0
        while await worker.run_once():
            rounds += 1
        return rounds

    try:
        enqueue(database, [made.make(datetime.now(UTC)) for _ in range(WARMUP)])
        await drain()
        enqueue(database, [made.make(datetime.now(UTC)) for _ in range(deliveries)])
        plain, _ = await timed(drain)
        log(f"profile: {1000 * plain / deliveries:.2f} ms per delivery in process, no profiler")
        enqueue(database, [made.make(datetime.now(UTC)) for _ in range(deliveries)])
        profiled_seconds, rounds, profiler = await under_profiler(drain)
    finally:
        await worker.aclose()
    if pending(database):
        raise RuntimeError("the profiled worker left deliveries pending")
    found = figures(profiler, SELECTED, deliveries, top=TOP)
    return Profiled(
        deliveries,
        1000 * plain / deliveries,
        1000 * profiled_seconds / deliveries,
        rounds,
        found.selected,
        found.own,
    )


def selected_table(profiled: Profiled) -> str:
    found = {label: profiled.selected.get(label) for label, _, _ in SELECTED if label}
    return markdown_table(
        "Where | Calls / delivery | Cumulative ms / delivery",
        ([label, f"{f[0]:.2f}", f"{f[1]:.2f}"] for label, f in found.items() if f),
    )


def own_table(profiled: Profiled, limit: int = 15) -> str:
    return own_time_table(profiled.own[:limit], "delivery")
