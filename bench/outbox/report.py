"""The outbox benchmark's results: Markdown for people, JSON with every figure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.outbox.measure import DrainResult, LatencyResult
from bench.outbox.profile import Profiled, own_table, selected_table
from bench.report import BenchmarkReport, markdown_table

# The targets.
RATE_TARGET = 500.0  # deliveries per second per worker
P99_TARGET_MS = 100.0  # enqueue to delivered, healthy receiver


@dataclass
class OutboxReport(BenchmarkReport):
    drains: list[DrainResult] = field(default_factory=list)
    # Drains with something no setting reaches changed (bench/outbox/variant.py).
    diagnostic_drains: list[DrainResult] = field(default_factory=list)
    latencies: list[LatencyResult] = field(default_factory=list)
    profile: Profiled | None = None
    profile_database: str = ""

    def markdown(self) -> str:
        lines = [
            *self.header("Outbox drain benchmark"),
            "",
            "## Targets",
            "",
            *targets(self.drains, self.latencies),
        ]
        if self.drains or self.diagnostic_drains:
            lines += ["", "## Drain: a backlog to a healthy receiver", "", DRAIN_LEGEND, ""]
            lines += [drain_table(self.drains + self.diagnostic_drains)]
            lines += ["", "### Where the CPU went during each drain", "", CPU_LEGEND, ""]
            lines += [cpu_table(self.drains + self.diagnostic_drains)]
        if self.latencies:
            lines += ["", "## Enqueue to delivered, steady rate", "", LATENCY_LEGEND, ""]
            lines += [latency_table(self.latencies)]
        lines += [
            "",
            "## Exactly once",
            "",
            checks_table(self.drains, self.diagnostic_drains, self),
        ]
        if self.profile is not None:
            p = self.profile
            lines += [
                "",
                f"## Where a delivery's time goes: one DeliveryWorker in process, "
                f"{self.profile_database}",
                "",
                PROFILE_LEGEND,
                "",
                f"- {p.deliveries:,} deliveries: **{p.ms_per_delivery:.2f} ms per delivery** "
                f"without the profiler ({1000 / p.ms_per_delivery:,.0f}/s), "
                f"{p.profiled_ms_per_delivery:.2f} ms under it, in {p.rounds} rounds of "
                "`run_once`.",
                "",
                selected_table(p),
                "",
                "By own time (the top 15):",
                "",
                own_table(p),
            ]
        return "\n".join(lines).rstrip() + "\n"

    def raw(self) -> dict[str, Any]:
        raw = super().raw()
        raw["figures"] = {
            "drains": [_drain_figures(d) for d in self.drains],
            "diagnostic_drains": [_drain_figures(d) for d in self.diagnostic_drains],
            "latencies": [{"layout": r.layout, **r.summary()} for r in self.latencies],
        }
        return raw


DRAIN_LEGEND = (
    "Deliveries queued in one transaction while the workers idle; the clock runs from "
    "its commit until no delivery is pending. **first / last** s: commit to the first and "
    "to the last delivery recorded delivered. **sessions**: PostgreSQL sessions opened "
    "while draining (pg_stat_database.sessions): connections the workers' pool opened. "
    "**load** is the 1-minute load average just before (other work on the machine "
    "pushes it above what the benchmark itself causes). Rows marked *diagnostic* are "
    "`bench.outbox.variant`, not the shipped command (see the README)."
)
CPU_LEGEND = (
    "CPU milliseconds per delivery during the drain, from /proc: the worker processes "
    "(all their threads), the receiver, this process (the 25 ms poll), and the rest of "
    "the machine's busy time (PostgreSQL's backends, and anything else running); "
    "**cores** is the whole machine's busy time over the drain's seconds (2 cores here)."
)
LATENCY_LEGEND = (
    "One delivery queued (its own transaction) every 1/rate s while the workers run; "
    "each delivery's `finished_at - created_at` from its outbox row. On PostgreSQL the "
    "enqueueing transaction's NOTIFY wakes an idle worker when it commits; the poll "
    "interval (GATEWAY_DELIVERY_POLL_SECONDS, default 0.1 s) is the fallback, and what "
    "finds retries falling due. The other row (if any) is bench/outbox/variant.py with a "
    "shorter poll, for comparison only."
)
PROFILE_LEGEND = (
    "A DeliveryWorker on this thread (the claim, consent re-check and outcome that it "
    "hands to threads run inline, so cProfile sees them), draining a backlog to the "
    "same receiver process; cumulative milliseconds per delivery (under the profiler, "
    "which inflates Python-heavy parts more than waits). Coroutines count one call per "
    "resumption."
)


def _drain_figures(d: DrainResult) -> dict[str, Any]:
    return {
        "layout": d.layout,
        "per_second": d.per_second,
        "per_worker": d.per_worker,
        "worker_cpu_ms": d.per_delivery_ms(d.cpu.workers),
        "receiver_cpu_ms": d.per_delivery_ms(d.cpu.receiver),
        "rest_cpu_ms": d.per_delivery_ms(d.cpu.rest),
        "cores": d.cores,
    }


def _database(name: str) -> str:
    return {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(name, name)


def drain_table(drains: list[DrainResult]) -> str:
    return markdown_table(
        "Database | Workers | Deliveries | Seconds | **Deliveries/s** | Per worker"
        " | First / last s | Sessions | Load | Exactly once",
        (
            [
                _database(d.database),
                d.layout,
                f"{d.deliveries:,}",
                f"{d.seconds:.1f}",
                f"**{d.per_second:,.0f}**",
                f"{d.per_worker:,.0f}",
                f"{d.first_finished_s:.2f} / {d.last_finished_s:.1f}",
                "-" if d.sessions is None else f"{d.sessions:,}",
                f"{d.load_average:.2f}",
                "yes" if d.ok else "NO",
            ]
            for d in drains
        ),
    )


def cpu_table(drains: list[DrainResult]) -> str:
    return markdown_table(
        "Database | Workers | Workers ms | Receiver ms | This process ms"
        " | Rest (PostgreSQL, other) ms | Cores busy",
        (
            [
                _database(d.database),
                d.layout,
                *(
                    f"{d.per_delivery_ms(cpu):.2f}"
                    for cpu in (d.cpu.workers, d.cpu.receiver, d.cpu.bench, d.cpu.rest)
                ),
                f"{d.cores:.2f}",
            ]
            for d in drains
        ),
    )


def latency_table(results: list[LatencyResult]) -> str:
    return markdown_table(
        "Database | Workers | Poll interval | Deliveries | Rate /s | p50 ms | p95 ms"
        " | **p99 ms** | Max ms | Enqueue lag ms | Load | Exactly once",
        (_latency_row(r) for r in results),
    )


def _latency_row(r: LatencyResult) -> list[str]:
    f = r.summary()
    return [
        _database(r.database),
        r.layout,
        f"{r.poll_interval:g} s",
        f"{r.deliveries:,}",
        f"{r.rate:g}",
        f"{f['p50_ms']:.1f}",
        f"{f['p95_ms']:.1f}",
        f"**{f['p99_ms']:.1f}**",
        f"{f['max_ms']:.1f}",
        f"{r.enqueue_lag_ms:.1f}",
        f"{r.load_average:.2f}",
        "yes" if r.ok else "NO",
    ]


def checks_table(
    drains: list[DrainResult], diagnostics: list[DrainResult], report: OutboxReport
) -> str:
    runs: list[tuple[str, Any]] = [
        (f"drain, {_database(d.database)}, {d.layout}", d.checked) for d in drains
    ]
    runs += [
        (f"drain (diagnostic), {_database(d.database)}, {d.layout}", d.checked) for d in diagnostics
    ]
    runs += [
        (f"latency, {_database(r.database)}, {r.layout}, poll {r.poll_interval:g} s", r.checked)
        for r in report.latencies
    ]
    return markdown_table(
        "Run | Outbox states | Attempts | Receiver: requests / stored / 409 duplicates | Problems",
        ([label, *_checked_cells(checked)] for label, checked in runs),
    )


def _checked_cells(checked: Any) -> list[str]:
    receiver = checked.receiver
    return [
        ", ".join(f"{state} {count:,}" for state, count in sorted(checked.states.items())),
        ", ".join(
            f"{count:,} x {attempts}" for attempts, count in sorted(checked.attempts.items())
        ),
        f"{receiver['requests']:,} / {receiver['stored']:,} / {receiver['duplicates']:,}",
        "; ".join(checked.problems) or "none",
    ]


def targets(drains: list[DrainResult], latencies: list[LatencyResult]) -> list[str]:
    lines = []
    for d in drains:
        verdict = "met" if d.per_worker >= RATE_TARGET and d.ok else "NOT met"
        lines.append(
            f"- Drain, {_database(d.database)}, {d.layout}: {d.per_second:,.0f} deliveries/s, "
            f"{d.per_worker:,.0f} per worker (target: at least {RATE_TARGET:,.0f} per worker: "
            f"**{verdict}**, x{d.per_worker / RATE_TARGET:.2f} of it)."
        )
    for r in latencies:
        p99 = r.percentile(0.99)
        verdict = "met" if p99 < P99_TARGET_MS and r.ok else "NOT met"
        which = (
            "bench.outbox.variant, not the shipped worker"
            if "bench.outbox.variant" in r.command
            else f"poll interval {r.poll_interval:g} s, the shipped worker"
        )
        lines.append(
            f"- Enqueue to delivered at {r.rate:g}/s, {_database(r.database)}, {r.layout} "
            f"({which}): p99 {p99:.1f} ms "
            f"(target under {P99_TARGET_MS:.0f} ms: **{verdict}**)."
        )
    return lines or ["- nothing measured"]
