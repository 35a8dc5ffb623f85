"""The two measurements: draining a backlog, and enqueue-to-delivered under a steady rate.

**Drain**: the outbox emptied, the receiver reset; `deliveries` built (untimed); the
worker processes started and idle (each has logged `worker.started` and is polling);
then every delivery queued in one transaction. The clock starts at its commit (when a
worker may first see them) and stops when a poll (every 25 ms, from this process)
finds no delivery queued, in flight or retrying: deliveries per second = deliveries /
that time. Around it, the CPU seconds of the workers, the receiver, this process and the
whole machine (the rest: PostgreSQL's backends, mostly), and, on PostgreSQL, the
sessions the database saw open (pg_stat_database.sessions).

**Latency**: the same start, then one delivery queued every 1/rate s for `seconds`
(each in a transaction of its own, as each push queues its own), then a wait until
nothing is pending. Each delivery's enqueue-to-delivered time is its outbox row's
`finished_at - created_at`, both written with the app's clock (`created_at` by this
process just before its insert, `finished_at` by the worker as it records the outcome;
one machine, one clock).

After either: every delivery must be `delivered`, and the receiver must hold each
delivery's id exactly once (stored = deliveries, its ids the outbox's, no 409
duplicate answered): anything else is listed as a problem and fails the run's verdict.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.outbox.deliveries import Deliveries, enqueue
from bench.outbox.processes import (
    CpuSample,
    ReceiverProcess,
    WorkerLayout,
    running_workers,
)
from bench.stats import percentile
from gateway.exchange.deliveries import PENDING, DeliveryState, NewDelivery
from gateway.platform.database import Database
from gateway.platform.schema import outbox

POLL_S = 0.025
DRAIN_TIMEOUT_S = 300.0


@dataclass
class Checked:
    """What the outbox and the receiver hold afterwards."""

    states: dict[str, int]
    attempts: dict[int, int]  # attempts -> deliveries
    receiver: dict[str, int]  # the receiver's /stats
    problems: list[str] = field(default_factory=list)


@dataclass
class Cpu:
    """CPU seconds during the measured interval."""

    workers: float
    receiver: float
    bench: float
    rest: float
    machine: float

    @classmethod
    def of(cls, sample: CpuSample) -> Cpu:
        return cls(sample.workers, sample.receiver, sample.bench, sample.rest, sample.machine)


@dataclass
class DrainResult:
    database: str
    layout: str
    processes: int
    workers: int
    deliveries: int
    body_bytes: int  # the mean message size
    seconds: float  # commit to empty
    first_finished_s: float  # commit to the first delivery recorded as delivered
    last_finished_s: float  # commit to the last
    cpu: Cpu
    sessions: int | None  # PostgreSQL sessions opened during the drain
    checked: Checked
    load_average: float

    @property
    def per_second(self) -> float:
        return self.deliveries / self.seconds if self.seconds else math.nan

    @property
    def per_worker(self) -> float:
        return self.per_second / self.workers

    def per_delivery_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.deliveries

    @property
    def cores(self) -> float:
        return self.cpu.machine / self.seconds if self.seconds else math.nan

    @property
    def ok(self) -> bool:
        return not self.checked.problems


@dataclass
class LatencyResult:
    database: str
    layout: str
    poll_interval: float
    command: str
    rate: float  # deliveries queued per second, as planned
    seconds: float
    deliveries: int
    enqueue_lag_ms: float  # how late the worst enqueue was on its schedule
    latencies_ms: list[float]
    cpu: Cpu
    checked: Checked
    load_average: float

    def percentile(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction)

    @property
    def mean_ms(self) -> float:
        return sum(self.latencies_ms) / len(self.latencies_ms) if self.latencies_ms else math.nan

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms) if self.latencies_ms else math.nan

    @property
    def ok(self) -> bool:
        return not self.checked.problems

    def summary(self) -> dict[str, Any]:
        return {
            "p50_ms": self.percentile(0.50),
            "p95_ms": self.percentile(0.95),
            "p99_ms": self.percentile(0.99),
            "max_ms": self.max_ms,
            "mean_ms": self.mean_ms,
        }


def clear(database: Database, receiver: ReceiverProcess) -> None:
    with database.write() as connection:
        if database.dialect == "postgresql":
            connection.execute(text("TRUNCATE outbox RESTART IDENTITY"))
        else:
            connection.execute(text("DELETE FROM outbox"))
    receiver.reset()


def pending(database: Database) -> int:
    with database.read() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM outbox WHERE state IN ('queued', 'in-flight', 'retrying')")
        ).scalar_one()
    return int(count)


def sessions(database: Database) -> int | None:
    """Sessions established to this PostgreSQL database so far (None on SQLite)."""
    if database.dialect != "postgresql":
        return None
    with database.read() as connection:
        connection.execute(text("SELECT pg_stat_force_next_flush()"))
        value = connection.execute(
            text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
    return int(value)


def _wait_drained(database: Database, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while pending(database):
        if time.perf_counter() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def drain(
    database: Database,
    receiver: ReceiverProcess,
    layout: WorkerLayout,
    env: dict[str, str],
    log_dir: Path,
    *,
    name: str,
    count: int,
    first_patient: int,
    log: Callable[[str], None],
    command: Sequence[str] | None = None,
) -> DrainResult:
    built = time.perf_counter()
    batch = _fresh(database, receiver, first_patient, count)
    log(f"{name}: {count:,} deliveries built in {time.perf_counter() - built:.1f} s")
    body_bytes = sum(len(d.body.encode()) for d in batch) // count
    with running_workers(layout, env, log_dir, name, command=command) as processes:
        opened = sessions(database)
        load_average = os.getloadavg()[0]
        committed_at = enqueue(database, batch)
        began = time.perf_counter()
        before = CpuSample.take([p.pid for p in processes], receiver.pid)
        drained = _wait_drained(database, DRAIN_TIMEOUT_S)
        seconds = time.perf_counter() - began
        after = CpuSample.take([p.pid for p in processes], receiver.pid)
        opened_during = None if opened is None else (sessions(database) or 0) - opened
    checked = _checked(database, receiver, batch, drained, f"within {DRAIN_TIMEOUT_S:.0f} s")
    first, last = _finished_span(database, committed_at)
    result = DrainResult(
        database=database.dialect,
        layout=layout.label,
        processes=layout.processes,
        workers=layout.total,
        deliveries=count,
        body_bytes=body_bytes,
        seconds=seconds,
        first_finished_s=first,
        last_finished_s=last,
        cpu=Cpu.of(after.since(before)),
        sessions=opened_during,
        checked=checked,
        load_average=load_average,
    )
    log(
        f"{name}: {result.per_second:,.0f} deliveries/s ({result.per_worker:,.0f} per worker) "
        f"in {seconds:.1f} s; workers {result.per_delivery_ms(result.cpu.workers):.2f} ms CPU "
        f"per delivery; problems: {checked.problems or 'none'}"
    )
    return result


def latency(
    database: Database,
    receiver: ReceiverProcess,
    layout: WorkerLayout,
    env: dict[str, str],
    log_dir: Path,
    *,
    name: str,
    rate: float,
    seconds: float,
    first_patient: int,
    poll_interval: float,
    command: Sequence[str] | None,
    log: Callable[[str], None],
) -> LatencyResult:
    count = round(rate * seconds)
    batch = _fresh(database, receiver, first_patient, count)
    with running_workers(layout, env, log_dir, name, command=command) as processes:
        time.sleep(1.0)  # idle: polling an empty outbox
        load_average = os.getloadavg()[0]
        before = CpuSample.take([p.pid for p in processes], receiver.pid)
        began = time.perf_counter()
        worst_lag = 0.0
        for index, delivery in enumerate(batch):
            due = began + index / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                worst_lag = max(worst_lag, -wait)
            enqueue(database, [delivery])
        drained = _wait_drained(database, 60.0)
        after = CpuSample.take([p.pid for p in processes], receiver.pid)
    checked = _checked(database, receiver, batch, drained, "within 60 s of the last enqueue")
    with database.read() as connection:
        rows = connection.execute(
            select(outbox.c.created_at, outbox.c.finished_at).where(
                outbox.c.state == DeliveryState.DELIVERED
            )
        ).all()
    latencies = [1000 * (done - created).total_seconds() for created, done in rows]
    result = LatencyResult(
        database=database.dialect,
        layout=layout.label,
        poll_interval=poll_interval,
        command=" ".join(command) if command else "python -m gateway.commands.cli worker",
        rate=rate,
        seconds=seconds,
        deliveries=count,
        enqueue_lag_ms=1000 * worst_lag,
        latencies_ms=latencies,
        cpu=Cpu.of(after.since(before)),
        checked=checked,
        load_average=load_average,
    )
    figures = result.summary()
    log(
        f"{name}: p50 {figures['p50_ms']:.1f} / p95 {figures['p95_ms']:.1f} / "
        f"p99 {figures['p99_ms']:.1f} ms (max {figures['max_ms']:.1f}); "
        f"problems: {checked.problems or 'none'}"
    )
    return result


def _fresh(
    database: Database, receiver: ReceiverProcess, first_patient: int, count: int
) -> list[NewDelivery]:
    """An empty outbox and receiver, and `count` deliveries to queue (a patient each)."""
    clear(database, receiver)
    made = Deliveries(f"{receiver.fhir}/$process-message", first=first_patient)
    return [made.make(datetime.now(UTC)) for _ in range(count)]


def _checked(
    database: Database,
    receiver: ReceiverProcess,
    batch: list[NewDelivery],
    drained: bool,
    deadline: str,
) -> Checked:
    checked = check(database, receiver, [d.id for d in batch])
    if not drained:
        checked.problems.insert(0, f"not drained {deadline}")
    return checked


def check(database: Database, receiver: ReceiverProcess, ids: list[str]) -> Checked:
    with database.read() as connection:
        rows = connection.execute(select(outbox.c.id, outbox.c.state, outbox.c.attempts)).all()
    stats = receiver.stats()
    checked = Checked(
        states=dict(Counter(row.state for row in rows)),
        attempts=dict(Counter(int(row.attempts) for row in rows)),
        receiver=stats,
    )
    expected = set(ids)
    if {row.id for row in rows} != expected:
        checked.problems.append("the outbox does not hold exactly the deliveries queued")
    not_delivered = sum(
        count for state, count in checked.states.items() if state != DeliveryState.DELIVERED
    )
    if not_delivered:
        still = sum(checked.states.get(state, 0) for state in PENDING)
        checked.problems.append(f"{not_delivered:,} not delivered ({still:,} still pending)")
    stored = receiver.ids()
    if len(stored) != len(ids) or set(stored) != expected:
        missing, extra = len(expected - set(stored)), len(set(stored) - expected)
        checked.problems.append(
            f"the receiver stored {len(stored):,} for {len(ids):,} deliveries "
            f"({missing:,} missing, {extra:,} not queued)"
        )
    if stats["duplicates"]:
        checked.problems.append(f"{stats['duplicates']:,} sent again (answered 409 duplicate)")
    if stats["refused"]:
        checked.problems.append(f"{stats['refused']:,} without X-Request-ID")
    return checked


def _finished_span(database: Database, committed_at: datetime) -> tuple[float, float]:
    with database.read() as connection:
        first, last = connection.execute(
            select(func.min(outbox.c.finished_at), func.max(outbox.c.finished_at)).where(
                outbox.c.state == DeliveryState.DELIVERED
            )
        ).one()
    if first is None or last is None:
        return math.nan, math.nan
    return (first - committed_at).total_seconds(), (last - committed_at).total_seconds()
