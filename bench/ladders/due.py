"""Finding the due steps: `StepStore(connection).due(now, 50)`, the deadline watcher's
one query per look, timed in process at each number of open steps.

A fresh store per size (migrated by gateway.platform.migrate.upgrade), each holding DUE
steps that missed their deadline 1 to 60 s before `now` and open steps with deadlines
spread over the future (bench/ladders/steps.py) up to its size (the same rows: a
smaller store's are the larger's first), then fresh planner statistics
(bench/ladders/steps.py's analyze, as bench.run does after loading). Then `rounds`
rounds: in each, on each store in turn (the order reversed every other round), one read
connection (one transaction, as the watcher's look is), `warmup` calls, then
`calls / rounds` calls timed one at a time (bench/stats.py), each with the same `now`
(the filler's), so each must answer the same DUE steps. Interleaving the sizes is what
makes their ratio fair on a machine whose speed drifts. Last, the statement a call
sends, captured and explained on each store (bench/plans.py: EXPLAIN (ANALYZE, BUFFERS)
on PostgreSQL, EXPLAIN QUERY PLAN on SQLite).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from bench.ladders.steps import Filler, analyze, count_open, insert_steps
from bench.plans import explained, statements_of
from bench.stats import call_timing, percentile, time_calls
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
    fill_seconds: float  # inserting this size, and the statistics
    load_average: float  # 1-minute, before each round's calls, averaged
    round_medians_us: list[float] = field(default_factory=list)  # each round's, in order
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


@dataclass
class _Store:
    size: int
    database: Database
    url: str
    fill_seconds: float
    samples: list[int] = field(default_factory=list)
    answered: set[int] = field(default_factory=set)
    loads: list[float] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)


def measure_due(
    database_name: str,
    store: Callable[[], AbstractContextManager[str]],
    sizes: Sequence[int],
    *,
    now: datetime,
    seed: int,
    calls: int,
    rounds: int,
    warmup: int,
    log: Callable[[str], None],
) -> list[DueTiming]:
    """A store per size (`store()` makes an empty one), filled; then `rounds` rounds
    that time `calls / rounds` calls on each store in turn (the order reversed every
    other round), so that the machine's drift touches every size alike."""
    with ExitStack() as stack:
        stores: list[_Store] = []
        for size in sorted(sizes):
            url = stack.enter_context(store())
            database = Database(url, pool_size=2)
            stack.callback(database.dispose)
            migrate.upgrade(database)
            began = time.perf_counter()
            filler = Filler(now, seed)  # the same rows: a smaller store's are the larger's first
            insert_steps(database, filler.rows(0, DUE, due=True))
            insert_steps(database, filler.rows(DUE, size - DUE))
            analyze(database, url)
            filled = _Store(count_open(database), database, url, time.perf_counter() - began)
            stores.append(filled)
            log(f"{database_name}: {filled.size:,} open steps in {filled.fill_seconds:.1f} s")
        for round_number in range(rounds):
            for filled in stores if round_number % 2 == 0 else reversed(stores):
                filled.loads.append(os.getloadavg()[0])
                with filled.database.read() as connection:
                    answered, samples = _timed(connection, now, calls // rounds, warmup)
                filled.answered |= answered
                filled.samples += samples
                filled.round_medians.append(percentile(samples, 0.5) / 1000)
        results = []
        for filled in stores:
            with filled.database.read() as connection, statements_of(connection) as sent:
                filled.answered.add(len(StepStore(connection).due(now, LIMIT)))
            with filled.database.read() as connection:
                plan = explained(connection, sent)
            timing = call_timing(f"due, {filled.size:,} open", filled.samples)
            result = DueTiming(
                database=database_name,
                size=filled.size,
                # -1: the calls disagreed
                due=filled.answered.pop() if len(filled.answered) == 1 else -1,
                calls=len(filled.samples),
                median_us=timing.median_us,
                p99_us=timing.p99_us,
                mean_us=timing.mean_us,
                fill_seconds=filled.fill_seconds,
                load_average=sum(filled.loads) / len(filled.loads),
                round_medians_us=filled.round_medians,
                plan=plan,
            )
            results.append(result)
            log(
                f"{database_name}: {result.size:,} open steps: due() median "
                f"{result.median_us:,.0f} µs, p99 {result.p99_us:,.0f} µs ({result.due} due); "
                + " / ".join(result.plan_nodes)
            )
    return results


def _timed(
    connection: Connection, now: datetime, calls: int, warmup: int
) -> tuple[set[int], list[int]]:
    """How many steps the calls answered (one number, if all agree), and each timed
    call's nanoseconds, after `warmup` calls."""

    def call(_: int) -> list[str]:
        return StepStore(connection).due(now, LIMIT)

    answered = {len(call(i)) for i in range(warmup)}
    return answered, time_calls(calls, call)
