"""The consent benchmark's results: Markdown for people, JSON with every raw figure (and
the query plans)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.consent.decisions import TARGET_MEDIAN_US
from bench.consent.searches import KindResult, ModeResult
from bench.load import LOAD_COLUMNS, LoadStats
from bench.report import (
    BenchmarkReport,
    largest_per_database,
    markdown_table,
    timings_table,
)
from bench.stats import CallTiming

SEARCH_P99_TARGET_MS = 20.0  # bench.run's search target, at 1M on PostgreSQL


@dataclass
class Stage:
    database: str
    size: int  # ServiceRequests and Communications loaded
    stored: int  # every resource in the store when searched
    consents: int  # Consent resources in the store
    consenting_patients: int
    patients: int  # patients the loaded resources may name
    load: LoadStats
    searches: list[KindResult]
    # How many originating organisations a reader's agreements condition names.
    agreement_origins: int
    load_average: float
    seconds: float  # measuring, counting and explaining


@dataclass
class ConsentReport(BenchmarkReport):
    decisions: list[CallTiming] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [
            *self.header("Consent and data-sharing benchmark"),
            "",
            "## Targets",
            "",
            *targets(self.decisions, self.stages),
        ]
        if self.decisions:
            lines += [
                "",
                "## Decision cost, in process",
                "",
                timings_table(self.decisions),
                "",
                *outcomes(self.decisions),
            ]
        if self.stages:
            lines += [
                "",
                "## Search latency, enforcement off and on",
                "",
                "In process, `ResourceService.search` for the asking organisation's client, "
                "in a read transaction of its own; **off**: `sharing=None` (the code before "
                "enforcement), **on**: a `SharingPolicy` built per search. Same store, same "
                "searches, interleaved. **matches**: entries on the page (mean); **total**: "
                "the Bundle total (mean); **hid**: searches where enforcement showed fewer "
                "matches or a lower total; **statements** and **in driver**: from a separate "
                "untimed pass, the SQL statements a search sent (mean / max) and the time "
                "spent inside the driver's execute per search (the database's work, the "
                "round trips, and the driver's own handling of the query text and "
                "parameters); **full GCs**: Python's "
                "generation-2 garbage collections that ran during the measured searches of "
                "each mode, and their total pause.",
                "",
                searches_table(self.stages),
                "",
                *search_notes(self.stages),
                "",
                "## Loading",
                "",
                load_table(self.stages),
            ]
            for stage in largest_per_database(self.stages):
                lines += [
                    "",
                    f"## Query plans with enforcement on, {stage.database} at {stage.size:,}",
                    "",
                ]
                lines += [
                    "The statements each search sent with enforcement on, and the plan of "
                    "each (long lines cut; the SQL and parameters, whole plans, and the plans "
                    "with enforcement off are in the .json).",
                    "",
                ]
                for result in stage.searches:
                    lines += [f"### {result.key}: {result.label}", "", "```"]
                    for number, block in enumerate(result.plans.get("on", []), start=1):
                        lines += [f"-- statement {number}: {_first_line(block)}"]
                        lines += _plan_lines(block)
                    lines += ["```", ""]
        return "\n".join(lines).rstrip() + "\n"


def outcomes(timings: list[CallTiming]) -> list[str]:
    lines = []
    for timing in timings:
        if timing.outcomes:
            said = ", ".join(f"{key}: {count:,}" for key, count in timing.outcomes.items())
            lines.append(f"- {timing.check}: {said}.")
    return lines


def searches_table(stages: list[Stage]) -> str:
    return markdown_table(
        "Database | Resources | Search | off p50 / p99 ms | on p50 / p99 ms"
        " | on - off p50 ms | on / off p50 | matches off / on | total off / on | hid"
        " | statements off / on | in driver ms off / on | full GCs off / on (ms)",
        (
            [
                stage.database,
                f"{stage.size:,}",
                r.key,
                _latency(r.off),
                _latency(r.on),
                f"{r.on.p50_ms - r.off.p50_ms:+.2f}",
                f"x{_ratio(r.on.p50_ms, r.off.p50_ms)}",
                f"{r.off.mean_matches:.1f} / {r.on.mean_matches:.1f}",
                f"{_total(r.off)} / {_total(r.on)}",
                f"{r.hid_something} of {r.off.requests}",
                f"{_statements(r.off)} / {_statements(r.on)}",
                f"{r.off.mean_driver_ms:.2f} / {r.on.mean_driver_ms:.2f}",
                f"{_collections(r.off)} / {_collections(r.on)}",
            ]
            for stage in stages
            for r in stage.searches
        ),
    )


def search_notes(stages: list[Stage]) -> list[str]:
    lines = []
    labels: dict[str, str] = {}
    for stage in stages:
        for result in stage.searches:
            labels.setdefault(result.key, result.label)
    lines += [f"- **{key}**: {label}" for key, label in labels.items()]
    for stage in stages:
        lines.append(
            f"- {stage.database} at {stage.size:,}: {stage.stored:,} resources stored, "
            f"{stage.consents:,} of them Consents, of {stage.consenting_patients:,} "
            f"patients (of about {stage.patients:,}); a reader's agreements condition "
            f"names {stage.agreement_origins} originating organisations; load average "
            f"{stage.load_average:.2f} after the searches; {stage.seconds:,.0f} s measuring."
        )
    return lines


def load_table(stages: list[Stage]) -> str:
    return markdown_table(
        f"Database | {LOAD_COLUMNS} | Consents | Stored when searched",
        ([s.database, *s.load.cells(s.size), f"{s.consents:,}", f"{s.stored:,}"] for s in stages),
    )


def targets(decisions: list[CallTiming], stages: list[Stage]) -> list[str]:
    lines = []
    if decisions:
        worst = max(t.median_us for t in decisions if t.check.startswith("decide"))
        verdict = "met" if worst < TARGET_MEDIAN_US else "NOT met"
        lines.append(
            f"- Decision cost: the slowest `decide` median above is {worst:,.1f} µs "
            f"(target: under {TARGET_MEDIAN_US:.0f} µs per resource: {verdict})."
        )
        on_read = [t for t in decisions if t.check.startswith("SharingPolicy.on_read")]
        if on_read:
            worst_read = max(t.median_us for t in on_read)
            verdict = "met" if worst_read < TARGET_MEDIAN_US else "NOT met"
            lines.append(
                f"  - per record through `SharingPolicy.on_read`: median {worst_read:,.1f} µs "
                f"at worst ({verdict})."
            )
    for stage in largest_per_database(stages):
        worst_kind = max(stage.searches, key=lambda r: r.on.p99_ms)
        verdict = "met" if worst_kind.on.p99_ms < SEARCH_P99_TARGET_MS else "NOT met"
        lines.append(
            f"- {stage.database} at {stage.size:,}: the worst search p99 with enforcement on "
            f"is {worst_kind.on.p99_ms:.1f} ms ({worst_kind.key}; off: "
            f"{worst_kind.off.p99_ms:.1f} ms). bench.run's target, in process here so "
            f"without HTTP: under {SEARCH_P99_TARGET_MS:.0f} ms at 1M on PostgreSQL: "
            f"{verdict} at this size."
        )
        for result in stage.searches:
            lines.append(
                f"  - {result.key}: p50 {result.off.p50_ms:.2f} -> {result.on.p50_ms:.2f} ms "
                f"(x{_ratio(result.on.p50_ms, result.off.p50_ms)}), p99 "
                f"{result.off.p99_ms:.2f} -> {result.on.p99_ms:.2f} ms "
                f"(x{_ratio(result.on.p99_ms, result.off.p99_ms)})."
            )
    return lines


def _latency(result: ModeResult) -> str:
    return f"{result.p50_ms:.2f} / {result.p99_ms:.2f}"


def _ratio(value: float, base: float) -> str:
    if not base or math.isnan(base) or math.isnan(value):
        return "-"
    return f"{value / base:.2f}"


def _total(result: ModeResult) -> str:
    return "-" if result.mean_total is None else f"{result.mean_total:.1f}"


def _collections(result: ModeResult) -> str:
    return f"{result.gc_full} ({result.gc_full_ms:,.0f})"


def _statements(result: ModeResult) -> str:
    if math.isnan(result.mean_statements):
        return "-"
    return f"{result.mean_statements:.1f} ({result.max_statements})"


def _first_line(block: str) -> str:
    """The statement's opening words, without the agreements' long condition."""
    first = block.splitlines()[0] if block else ""
    return first[:100] + ("..." if len(first) > 100 else "")


# Plan lines longer than this (the agreements condition as a filter) are cut in the
# Markdown; the .json has them whole.
_PLAN_LINE = 240


def _plan_lines(block: str) -> list[str]:
    lines = block.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("-- parameters:"):
            lines = lines[number + 1 :]
            break
    return [line if len(line) <= _PLAN_LINE else line[:_PLAN_LINE] + " ..." for line in lines]
