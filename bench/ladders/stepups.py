"""A step-up's way to a push receiver, timed from the deadline it follows.

One run: the real server (`gateway serve`, one process: HTTP, the deadline watcher and
the delivery worker together, as deployed) started on the store with
GATEWAY_DEADLINE_POLL_SECONDS at `poll`; the receiver (bench/ladders/receiver.py) reset.
Then `escalations` escalations (bench/ladders/escalations.py) are sent, one
`POST /api/escalations` each with bench-azz's token, at random (Poisson) times at `rate`
per second on average, from this process (asyncio, each request its own task, so a slow
answer never holds up the next), so that their deadlines fall at every point of the
watcher's poll. Nobody answers: each climbs front-line, manager, senior, two step-ups
delivered to the receiver and a notice. The run ends once none of its steps is open and
nothing is left to deliver, or at a timeout.

Each step-up the receiver stored names the step it follows (its Communication's
`escalation-previous-step`); that step's `deadline` and `acted_at` (when the watcher took
it) are read from `escalation_steps`. Figures, per step-up delivered:

- **late**: arrived at the receiver minus the missed step's deadline (both the wall
  clock of this machine: the gateway's `utc_now` and the receiver's `time.time()`);
- **found**: acted_at minus the deadline: the watcher's share (its poll, and the steps
  it took before this one in the same look);
- **delivered**: arrived minus acted_at: making and storing the step-up, its delivery
  queued, the delivery worker woken, the push.

Checked afterwards: every escalation answered 201; each of its three steps missed;
the receiver stored each escalation's front-line step and exactly one step-up for each
of the two steps that step up; nothing answered 409 duplicate.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.cpu import descendants, machine_busy, process_cpu
from bench.ladders.escalations import Escalations
from bench.outbox.measure import pending
from bench.outbox.processes import ReceiverProcess
from bench.stats import percentile
from gateway.handovers.ladder_store import MISSED
from gateway.platform.database import Database
from gateway.platform.schema import escalation_steps

TARGET_S = 2.0  # a step-up at the receiver within 2 s of the missed deadline, at p99
KEPT_ERRORS = 5
TIMEOUT_S = 60.0  # per request
SETTLE_POLL_S = 0.5


@dataclass
class StepUpRun:
    database: str
    poll_seconds: float
    step: str  # every level's time on the ladder (ISO 8601)
    open_before: int  # open steps in the store before the run (the filler's)
    rate: float  # escalations per second, on average
    planned: int
    sent_seconds: float  # first to last send
    created: int  # 201s
    statuses: dict[str, int] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)
    send_lag_ms: float = 0.0  # the latest send, behind its planned time
    push_ms: list[float] = field(default_factory=list)  # each POST /api/escalations
    # Per step-up delivered: which step it followed, late/found/delivered (s).
    level: list[str] = field(default_factory=list)
    late_s: list[float] = field(default_factory=list)
    found_s: list[float] = field(default_factory=list)
    delivered_s: list[float] = field(default_factory=list)
    # Every step the watcher found missed (the senior ones too, which make no delivery).
    found_all_s: list[float] = field(default_factory=list)
    # The most steps one look of the watcher took (acted_at values less than half a
    # poll apart counted as one look): near the batch (50), the rest wait a poll more.
    largest_look: int = 0
    settled_s: float = 0.0  # last send to nothing open or pending
    problems: list[str] = field(default_factory=list)
    load_before: float = 0.0  # 1-minute load average
    load_after: float = 0.0
    server_cpu_s: float = 0.0
    machine_busy_s: float = 0.0
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def late(self, fraction: float, level: str | None = None) -> float:
        values = [
            late for late, lvl in zip(self.late_s, self.level, strict=True) if level in (None, lvl)
        ]
        return percentile(values, fraction)

    @property
    def met(self) -> bool:
        return self.ok and bool(self.late_s) and self.late(0.99) <= TARGET_S

    @property
    def cores(self) -> float:
        return self.machine_busy_s / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict[str, Any]:
        """The derived figures, for the JSON."""
        figures: dict[str, Any] = {
            "step_ups": len(self.late_s),
            "late_s": _spread(self.late_s),
            "found_s": _spread(self.found_s),
            "delivered_s": _spread(self.delivered_s),
            "found_all_s": _spread(self.found_all_s),
            "push_ms": _spread(self.push_ms),
            "met_2s_p99": self.met,
            "largest_look": self.largest_look,
            "server_cores": self.server_cpu_s / self.wall_s if self.wall_s else None,
            "machine_cores": self.cores,
        }
        for level in ("front-line", "manager"):
            figures[f"late_s_after_{level}"] = _spread(
                [x for x, lvl in zip(self.late_s, self.level, strict=True) if lvl == level]
            )
        return figures


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values, default=float("nan")),
    }


def run_step_ups(
    base: str,
    bearer: Callable[[float], str],
    database: Database,
    receiver: ReceiverProcess,
    escalations: Escalations,
    result: StepUpRun,
    *,
    seed: int,
    settle_timeout: float,
    log: Callable[[str], None],
) -> StepUpRun:
    """Send, wait for the ladders to finish, and fill in `result`."""
    receiver.reset()
    rng = random.Random(seed)
    gaps = [rng.expovariate(result.rate) for _ in range(result.planned)]
    server = [pid for pid in descendants() if pid != receiver.pid]
    started_at = datetime.now(UTC)
    result.load_before = os.getloadavg()[0]
    cpu_before = sum(process_cpu(pid) for pid in server), machine_busy()
    began = time.perf_counter()
    asyncio.run(_send(base, bearer, escalations, gaps, result))
    result.sent_seconds = time.perf_counter() - began
    sent = time.perf_counter()
    settled = _settle(database, started_at, settle_timeout)
    result.settled_s = time.perf_counter() - sent
    result.wall_s = time.perf_counter() - began
    result.server_cpu_s = sum(process_cpu(pid) for pid in server) - cpu_before[0]
    result.machine_busy_s = machine_busy() - cpu_before[1]
    result.load_after = os.getloadavg()[0]
    if not settled:
        result.problems.append(f"steps still open or deliveries pending {settle_timeout:.0f} s on")
    _collect(database, receiver, started_at, result)
    log(
        f"{result.database}, poll {result.poll_seconds:g} s, {result.open_before:,} open: "
        f"{result.created:,} escalations, {len(result.late_s):,} step-ups; late p50 "
        f"{result.late(0.5):.2f} / p95 {result.late(0.95):.2f} / p99 {result.late(0.99):.2f}"
        f" / max {max(result.late_s, default=float('nan')):.2f} s; settled in "
        f"{result.settled_s:.0f} s; problems: {result.problems or 'none'}"
    )
    return result


async def _send(
    base: str,
    bearer: Callable[[float], str],
    escalations: Escalations,
    gaps: list[float],
    result: StepUpRun,
) -> None:
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=TIMEOUT_S) as client:

        async def push(content: bytes, authorization: str) -> None:
            headers = {"Content-Type": "application/json", "Authorization": authorization}
            asked = time.perf_counter()
            try:
                response = await client.post("/api/escalations", content=content, headers=headers)
                status, answer = str(response.status_code), response.text
            except httpx.TransportError as error:
                status, answer = "transport", f"{type(error).__name__}: {error}"
            result.push_ms.append(1000 * (time.perf_counter() - asked))
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status != "201" and len(result.first_errors) < KEPT_ERRORS:
                result.first_errors.append(f"{status} {answer[:500]}")

        tasks = []
        began = time.perf_counter()
        due = began
        for gap in gaps:
            due += gap
            # Before the wait: a token renewal (a request to the server) stays off the
            # schedule where it can.
            authorization = bearer(TIMEOUT_S + 30)
            content = escalations.body()
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                result.send_lag_ms = max(result.send_lag_ms, -1000 * wait)
            tasks.append(asyncio.create_task(push(content, authorization)))
        await asyncio.gather(*tasks)
    result.created = result.statuses.get("201", 0)


def _settle(database: Database, since: datetime, timeout: float) -> bool:
    """Wait until no step received since `since` is open and no delivery is pending."""
    deadline = time.perf_counter() + timeout
    while True:
        with database.read() as connection:
            still_open = connection.execute(
                select(func.count())
                .select_from(escalation_steps)
                .where(
                    escalation_steps.c.received_at >= since,
                    escalation_steps.c.state == "open",
                )
            ).scalar_one()
        if not still_open and not pending(database):
            return True
        if time.perf_counter() > deadline:
            return False
        time.sleep(SETTLE_POLL_S)


def _collect(
    database: Database, receiver: ReceiverProcess, since: datetime, result: StepUpRun
) -> None:
    with database.read() as connection:
        rows = connection.execute(
            select(
                escalation_steps.c.communication_id,
                escalation_steps.c.escalation_id,
                escalation_steps.c.step,
                escalation_steps.c.level,
                escalation_steps.c.deadline,
                escalation_steps.c.acted_at,
                escalation_steps.c.state,
            ).where(escalation_steps.c.received_at >= since)
        ).all()
    steps = {row.communication_id: row for row in rows}
    arrivals: list[dict[str, Any]] = receiver.get("/arrivals")
    stats = receiver.stats()
    for row in rows:
        if row.acted_at is not None and row.deadline is not None:
            result.found_all_s.append((row.acted_at - row.deadline).total_seconds())
    result.largest_look = largest_look(
        [row.acted_at.timestamp() for row in rows if row.acted_at is not None],
        result.poll_seconds / 2,
    )
    followed: dict[str, int] = {}
    first_steps = 0
    for arrival in arrivals:
        previous = arrival.get("previous")
        if previous is None:
            first_steps += 1
            continue
        followed[previous] = followed.get(previous, 0) + 1
        missed = steps.get(previous)
        if missed is None or missed.deadline is None:
            result.problems.append(f"a step-up follows {previous}, not a step of this run")
            continue
        deadline = missed.deadline.timestamp()
        result.level.append(missed.level)
        result.late_s.append(arrival["arrived"] - deadline)
        if missed.acted_at is not None:
            acted = missed.acted_at.timestamp()
            result.found_s.append(acted - deadline)
            result.delivered_s.append(arrival["arrived"] - acted)
    _check(result, rows, followed, first_steps, stats)


def largest_look(acted: list[float], gap: float) -> int:
    """The largest cluster of times with less than `gap` between neighbours."""
    largest = current = 0
    previous = None
    for at in sorted(acted):
        current = current + 1 if previous is not None and at - previous < gap else 1
        largest = max(largest, current)
        previous = at
    return largest


def _check(
    result: StepUpRun,
    rows: Sequence[Any],
    followed: dict[str, int],
    first_steps: int,
    stats: dict[str, int],
) -> None:
    problems = result.problems
    if result.created != result.planned:
        problems.append(f"{result.planned - result.created:,} escalations not created")
    escalations = {row.escalation_id for row in rows}
    if len(escalations) != result.created:
        problems.append(f"{len(escalations):,} escalations stored for {result.created:,} created")
    if len(rows) != 3 * result.created:
        problems.append(f"{len(rows):,} steps for {result.created:,} escalations (3 each)")
    not_missed = sum(1 for row in rows if row.state != MISSED)
    if not_missed:
        problems.append(f"{not_missed:,} steps not missed")
    if first_steps != result.created:
        problems.append(f"{first_steps:,} first steps delivered for {result.created:,}")
    stepping = [row.communication_id for row in rows if row.level != "senior"]
    missing = sum(1 for step in stepping if followed.get(step, 0) == 0)
    twice = sum(1 for count in followed.values() if count > 1)
    if missing:
        problems.append(f"{missing:,} missed steps with no step-up delivered")
    if twice:
        problems.append(f"{twice:,} missed steps with more than one step-up delivered")
    if stats["duplicates"]:
        problems.append(f"{stats['duplicates']:,} deliveries sent again (409 duplicate)")
