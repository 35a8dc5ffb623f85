"""The escalation-deadline benchmark's results: Markdown for people, JSON with every figure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.ladders.due import DueTiming
from bench.ladders.stepups import TARGET_S, StepUpRun
from bench.report import BenchmarkReport, code_blocks, markdown_table
from bench.stats import percentile

NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


@dataclass
class LaddersReport(BenchmarkReport):
    due: list[DueTiming] = field(default_factory=list)
    step_ups: list[StepUpRun] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [*self.header("Escalation deadlines benchmark"), "", "## Targets", ""]
        lines += targets(self.due, self.step_ups)
        if self.due:
            lines += ["", "## Finding the due steps", "", DUE_LEGEND, "", due_table(self.due)]
        if self.step_ups:
            lines += ["", "## A step-up at the receiver, after its deadline", "", LATE_LEGEND]
            lines += ["", late_table(self.step_ups), "", "### Where the time went", ""]
            lines += [PARTS_LEGEND, "", parts_table(self.step_ups), "", "### Checks", ""]
            lines += [checks_table(self.step_ups)]
        if self.due:
            lines += ["", "## Query plans", ""]
            lines += code_blocks(
                {f"{NAMES[d.database]}, {d.size:,} open steps": d.plan for d in self.due}
            )
        return "\n".join(lines).rstrip() + "\n"

    def raw(self) -> dict[str, Any]:
        raw = super().raw()
        raw["figures"] = {
            "due": [
                {
                    "database": d.database,
                    "size": d.size,
                    "median_us": d.median_us,
                    "p99_us": d.p99_us,
                    "median_ratio": ratio(d, self.due, "median_us"),
                    "p99_ratio": ratio(d, self.due, "p99_us"),
                }
                for d in self.due
            ],
            "step_ups": [
                {
                    "database": r.database,
                    "poll_seconds": r.poll_seconds,
                    "open_before": r.open_before,
                    **r.summary(),
                }
                for r in self.step_ups
            ],
        }
        return raw


DUE_LEGEND = (
    "`StepStore(connection).due(now, 50)`, the deadline watcher's query (open steps whose "
    "deadline has passed, earliest first, at most its batch of 50), timed in process one "
    "call at a time, on a store of each size, the sizes interleaved in rounds (each round "
    "one read transaction per store, after a warm-up). Each store holds the open steps "
    "counted (bench/ladders/steps.py: deadlines spread over the next 15 minutes to 2 days "
    "as the demo ladder gives them), of which 20 are due whatever the size, so every call "
    "answers 20. **/ smallest** is the figure divided by the same database's at the "
    "smallest size, in the same run: flat means about x1. **Rounds' medians**: each "
    "round's own median, in the order run, to show how far the machine moved them. "
    "**Plan**: how the statement the "
    "call sent reads the table (the whole plan is at the end). The machine was shared: "
    "**load** is the 1-minute load average before each round, averaged."
)
LATE_LEGEND = (
    "Escalations sent at random times (Poisson, the rate given) to a real `gateway serve`, "
    "nobody answering, each climbing a ladder of 3-second steps: front-line, manager, "
    "senior. For every step-up the push receiver stored (two per escalation), **late** "
    "is when it arrived at the receiver minus the missed step's deadline (from "
    "`escalation_steps`), in seconds. Each run on a fresh store, the same arrival times "
    "in each. **Open steps** is what the store held besides the run's own "
    "(bench/ladders/steps.py, none due during the run). **Met** is p99 within "
    f"{TARGET_S:g} s with every check passed. **Load**: 1-minute load average before / "
    "after the run (2 cores; other work on the machine included)."
)
PARTS_LEGEND = (
    "The p50 / p99 of each part of **late**, in seconds: **found** is `acted_at` (when the "
    "watcher took the missed step) minus its deadline: the poll, and the steps taken "
    "before it in the same look; **delivered** is arrival minus `acted_at`: making and "
    "storing the step-up (and its notice and access-log events) in one transaction, "
    "its delivery queued, woken and pushed. **Found, every step** includes the senior "
    "steps (a notice, no delivery). **After front-line / manager**: late p99 of the step-ups "
    "following each level. **Largest look**: the most steps one look of the watcher took "
    "(`acted_at` times less than half a poll apart; it takes at most 50 a look, the rest "
    "wait for the next). **Push ms**: `POST /api/escalations` p50 / p99; **server "
    "cores**: the server process's CPU over the run's wall time; **machine cores**: every "
    "core's busy time over it."
)


def ratio(d: DueTiming, all_due: list[DueTiming], figure: str) -> float:
    smallest = min((x for x in all_due if x.database == d.database), key=lambda x: x.size)
    base = float(getattr(smallest, figure))
    return float(getattr(d, figure)) / base if base else math.nan


def due_table(due: list[DueTiming]) -> str:
    return markdown_table(
        "Database | Open steps | Due | Calls | Median µs | p99 µs | Median / smallest"
        " | p99 / smallest | Rounds' medians µs | Plan | Load",
        (
            [
                NAMES[d.database],
                f"{d.size:,}",
                d.due if d.due >= 0 else "calls disagreed",
                f"{d.calls:,}",
                f"{d.median_us:,.0f}",
                f"{d.p99_us:,.0f}",
                f"**x{ratio(d, due, 'median_us'):.2f}**",
                f"x{ratio(d, due, 'p99_us'):.2f}",
                ", ".join(f"{us:,.0f}" for us in d.round_medians_us),
                "<br>".join(f"`{node}`" for node in d.plan_nodes),
                f"{d.load_average:.2f}",
            ]
            for d in due
        ),
    )


def _late_cells(r: StepUpRun) -> list[str]:
    return [f"{r.late(f):.2f}" for f in (0.5, 0.95)] + [
        f"**{r.late(0.99):.2f}**",
        f"{max(r.late_s, default=math.nan):.2f}",
    ]


def late_table(runs: list[StepUpRun]) -> str:
    return markdown_table(
        "Database | Open steps | Poll s | Escalations | Rate /s | Step-ups | p50 s | p95 s"
        " | **p99 s** | Max s | Met | Load",
        (
            [
                NAMES[r.database],
                f"{r.open_before:,}",
                f"{r.poll_seconds:g}",
                f"{r.created:,}",
                f"{r.rate:g}",
                f"{len(r.late_s):,}",
                *_late_cells(r),
                "yes" if r.met else "**no**",
                f"{r.load_before:.1f} / {r.load_after:.1f}",
            ]
            for r in runs
        ),
    )


def _pair(values: list[float], digits: int = 2) -> str:
    return f"{percentile(values, 0.5):.{digits}f} / {percentile(values, 0.99):.{digits}f}"


def parts_table(runs: list[StepUpRun]) -> str:
    return markdown_table(
        "Database | Open steps | Poll s | Found | Delivered | Found, every step"
        " | After front-line / manager p99 | Largest look | Push ms | Server cores"
        " | Machine cores",
        (
            [
                NAMES[r.database],
                f"{r.open_before:,}",
                f"{r.poll_seconds:g}",
                _pair(r.found_s),
                _pair(r.delivered_s),
                _pair(r.found_all_s),
                f"{r.late(0.99, 'front-line'):.2f} / {r.late(0.99, 'manager'):.2f}",
                f"{r.largest_look}",
                _pair(r.push_ms, 0),
                f"{r.server_cpu_s / r.wall_s:.2f}" if r.wall_s else "-",
                f"{r.cores:.2f}",
            ]
            for r in runs
        ),
    )


def checks_table(runs: list[StepUpRun]) -> str:
    return markdown_table(
        "Database | Open steps | Poll s | Answers | Send lag ms | Settled s | Problems",
        (
            [
                NAMES[r.database],
                f"{r.open_before:,}",
                f"{r.poll_seconds:g}",
                ", ".join(f"{status} {n:,}" for status, n in sorted(r.statuses.items())),
                f"{r.send_lag_ms:.0f}",
                f"{r.settled_s:.0f}",
                "; ".join(r.problems + r.first_errors) or "none",
            ]
            for r in runs
        ),
    )


def targets(due: list[DueTiming], runs: list[StepUpRun]) -> list[str]:
    lines = []
    for database in dict.fromkeys(d.database for d in due):
        mine = [d for d in due if d.database == database]
        largest = max(mine, key=lambda d: d.size)
        smallest = min(mine, key=lambda d: d.size)
        indexed = all(
            any("ix_escalation_steps_state_deadline" in node for node in d.plan_nodes) for d in mine
        )
        lines.append(
            f"- Finding due steps, {NAMES[database]}: median {smallest.median_us:,.0f} µs at "
            f"{smallest.size:,} open steps, {largest.median_us:,.0f} µs at {largest.size:,} "
            f"(**x{ratio(largest, due, 'median_us'):.2f}**; p99 "
            f"x{ratio(largest, due, 'p99_us'):.2f}); "
            + (
                "the (state, deadline) index at every size."
                if indexed
                else "**not by the (state, deadline) index at every size** (see the plans)."
            )
        )
    for r in runs:
        verdict = "met" if r.met else "**NOT met**"
        lines.append(
            f"- Step-up at the receiver within {TARGET_S:g} s of the deadline, p99, "
            f"{NAMES[r.database]}, poll {r.poll_seconds:g} s, {r.open_before:,} other open "
            f"steps: p99 {r.late(0.99):.2f} s over {len(r.late_s):,} step-ups: {verdict}."
        )
    return lines or ["- nothing measured"]
