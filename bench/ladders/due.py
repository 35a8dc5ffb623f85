"""Finding the due steps: `StepStore(connection).due(now, 50)`, the deadline watcher's
one query per look, timed in process at each number of open steps.

A fresh store (migrated by gateway.platform.migrate.upgrade) grows in place: DUE steps
that missed their deadline 1 to 60 s before `now`, then open steps with deadlines spread
over the future (bench/ladders/steps.py) up to each size in turn; after each growth,
fresh planner statistics (bench/ladders/steps.py's analyze, as bench.run does). At each
size, on one read connection (one transaction, as the watcher's look is): `warmup`
calls, then `calls` calls timed one at a time (bench/stats.py), each with the same `now`
(the filler's), so each must answer the same DUE steps; then the statement the call sent,
captured and explained (bench/plans.py: EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL,
EXPLAIN QUERY PLAN on SQLite).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from bench.ladders.steps import Filler, analyze, count_open, insert_steps
from bench.plans import explained, statements_of
from bench.stats import call_timing, time_calls
from gateway.handovers.ladder_store import StepStore
from gateway.platform import migrate
from gateway.platform.database import Database

DUE = 20  # steps past their deadline, whatever the size
LIMIT = 50  # the watcher's batch (WatcherSettings.batch)


@dataclass
class DueTiming:
    database: str
    size: int  # open steps in the store
    due: int  # what each call answered (DUE, or the measurement is wrong)
    calls: int
    median_us: float
    p99_us: float
    mean_us: float
    fill_seconds: float  # inserting up to this size, and the statistics
    load_average: float  # 1-minute, just before the timed calls
    plan: list[str] = field(default_factory=list)  # the statement, parameters and plan

    @property
    def plan_nodes(self) -> list[str]:
        """The plan's access lines: how the table is read (index or scan)."""
        nodes = []
        for block in self.plan:
            for line in block.splitlines():
                stripped = line.strip().removeprefix("->").strip()
                if any(
                    word in stripped
                    for word in ("Scan", "SCAN", "SEARCH", "Limit", "Sort", "TEMP B-TREE")
                ):
                    nodes.append(stripped.split("  (actual")[0].split(" (actual")[0])
        return nodes


def measure_due(
    database_name: str,
    url: str,
    sizes: Sequence[int],
    *,
    now: datetime,
    seed: int,
    calls: int,
    warmup: int,
    log: Callable[[str], None],
) -> list[DueTiming]:
    database = Database(url, pool_size=2)
    results: list[DueTiming] = []
    try:
        migrate.upgrade(database)
        filler = Filler(now, seed)
        stored = 0
        for size in sorted(sizes):
            began = time.perf_counter()
            if stored == 0:
                stored += insert_steps(database, filler.rows(0, DUE, due=True))
            stored += insert_steps(database, filler.rows(stored, size - stored))
            analyze(database, url)
            fill_seconds = time.perf_counter() - began
            open_steps = count_open(database)
            load_average = os.getloadavg()[0]
            with database.read() as connection:
                answered, samples, plan = _timed(connection, now, calls, warmup)
            timing = call_timing(f"due, {open_steps:,} open", samples)
            result = DueTiming(
                database=database_name,
                size=open_steps,
                due=answered.pop() if len(answered) == 1 else -1,  # -1: calls disagreed
                calls=calls,
                median_us=timing.median_us,
                p99_us=timing.p99_us,
                mean_us=timing.mean_us,
                fill_seconds=fill_seconds,
                load_average=load_average,
                plan=plan,
            )
            results.append(result)
            log(
                f"{database_name}: {open_steps:,} open steps: due() median "
                f"{result.median_us:,.0f} µs, p99 {result.p99_us:,.0f} µs "
                f"({result.due} due; filled in {fill_seconds:.1f} s); "
                + " / ".join(result.plan_nodes)
            )
    finally:
        database.dispose()
    return results


def _timed(
    connection: Connection, now: datetime, calls: int, warmup: int
) -> tuple[set[int], list[int], list[str]]:
    """How many steps the calls answered (one number, if all agree), each timed call's
    nanoseconds, and the statement one call sent, explained."""

    def call(_: int) -> list[str]:
        return StepStore(connection).due(now, LIMIT)

    answered = {len(call(i)) for i in range(warmup)}
    samples = time_calls(calls, call)
    with statements_of(connection) as sent:
        answered.add(len(call(0)))
    return answered, samples, explained(connection, sent)
