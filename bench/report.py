"""The results: a Markdown table for people, a JSON file with every raw figure."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.baseline import AuthCost
from bench.load import LoadStats
from bench.measure import Latency, Throughput
from bench.tokencheck import HOP, Timing

P99_TARGET_MS = 20.0
TOKEN_CHECK_TARGET_US = 1000.0  # "well under a millisecond"


@dataclass
class Stage:
    database: str
    size: int  # resources loaded (ServiceRequest + Communication)
    stored: int  # every resource in the store when searched (organisations included)
    load: LoadStats
    request_search: Latency
    poll_search: Latency
    # The machine's 1-minute load average after the searches: about 1 when only the
    # benchmark ran (one request at a time); more means something else competed.
    load_average: float = 0.0
    plans: dict[str, list[str]] = field(default_factory=dict)
    # Create throughput by number of server processes; empty where creates were not measured.
    creates: dict[int, Throughput] = field(default_factory=dict)


@dataclass
class Report:
    started: datetime
    settings: dict[str, Any]
    machine: dict[str, Any]
    create_workers: list[int]  # the server process counts creates were measured with
    versions: dict[str, str] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    # Creates without tokens on the baseline's code and with them on this code, by database.
    auth_cost: dict[str, AuthCost] = field(default_factory=dict)
    token_check: list[Timing] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [
            f"# Gateway benchmark, {self.started:%Y-%m-%d %H:%M} UTC",
            "",
            *(f"- {key}: {value}" for key, value in self.machine.items()),
            *(f"- {name}: {version}" for name, version in self.versions.items()),
            *(f"- {key}: {value}" for key, value in self.settings.items()),
            "",
            results_table(self.stages, self.create_workers),
            "",
            *targets(self.stages),
            "",
            *authentication(self.auth_cost, self.token_check),
            "## Loading",
            "",
            load_table(self.stages),
        ]
        for stage in self._largest_per_database():
            lines += ["", f"## Query plans, {stage.database} at {stage.size:,}", ""]
            for name, blocks in stage.plans.items():
                lines += [f"### {name}", "", "```", *blocks, "```", ""]
        return "\n".join(lines).rstrip() + "\n"

    def _largest_per_database(self) -> list[Stage]:
        largest: dict[str, Stage] = {}
        for stage in self.stages:
            if stage.database not in largest or stage.size > largest[stage.database].size:
                largest[stage.database] = stage
        return list(largest.values())

    def write(self, directory: Path, name: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.md").write_text(self.markdown())
        raw = asdict(self)
        (directory / f"{name}.json").write_text(json.dumps(raw, indent=2, default=str) + "\n")
        return directory / f"{name}.md"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table: a header row, its rule, then one row per item of `rows`."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def report_header(
    title: str,
    started: datetime,
    command: str,
    facts: list[dict[str, Any]],
) -> list[str]:
    """A report's opening lines: title, command line, then the machine, versions and
    settings as a list, as every benchmark's report starts."""
    return [
        f"# {title}, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}`",
        "",
        *(f"- {key}: {value}" for group in facts for key, value in group.items()),
    ]


def results_table(stages: list[Stage], create_workers: list[int]) -> str:
    create_headers = "".join(
        f"| Creates/s {n} {_processes(n)} | Create p50 / p99 ms {n} {_processes(n)} "
        for n in create_workers
    )
    header = (
        f"| Database | Resources {create_headers}"
        "| SR by NHS number p50 / p99 ms | matches "
        "| Comm recipient + _lastUpdated p50 / p99 ms | matches | load avg |"
    )
    rows = [header, "|" + "---|" * (7 + 2 * len(create_workers))]
    for s in stages:
        creates = "".join(f"| {_creates(s.creates.get(n))} " for n in create_workers)
        rows.append(
            f"| {s.database} | {s.size:,} {creates}"
            f"| {_latency(s.request_search)} | {s.request_search.mean_total:.1f} "
            f"| {_latency(s.poll_search)} | {s.poll_search.mean_total:.1f} "
            f"| {s.load_average:.2f} |"
        )
    return "\n".join(rows)


def _processes(count: int) -> str:
    return "proc" if count == 1 else "procs"


def _creates(result: Throughput | None) -> str:
    """Two cells: creates/s, and p50 / p99. Any failed request fails the measurement."""
    if result is None:
        return "- | -"
    if result.failed:
        attempted = result.created + result.errors
        reason = f"{result.errors:,} of {attempted:,} requests" if attempted else "no answer"
        return f"failed ({reason}) | -"
    return f"{result.per_second:,.0f} | {result.p50_ms:.0f} / {result.p99_ms:.0f}"


def _latency(result: Latency) -> str:
    cell = f"{result.p50_ms:.1f} / {result.p99_ms:.1f}"
    if result.errors:
        cell += f" ({result.errors} of {result.requests} failed)"
    return cell


def auth_cost_table(costs: dict[str, AuthCost]) -> str:
    rows = [
        "| Database | Creates/s without tokens (baseline) | Create p50 / p99 ms "
        "| Creates/s with tokens (this code) | Create p50 / p99 ms | with / without |",
        "|" + "---|" * 6,
    ]
    for database, cost in costs.items():
        failed = cost.with_tokens.failed or cost.without_tokens.failed
        ratio = "-" if failed else f"x{cost.ratio:.2f}"
        rows.append(
            f"| {database} | {_creates(cost.without_tokens)} | {_creates(cost.with_tokens)} "
            f"| {ratio} |"
        )
    return "\n".join(rows)


def token_check_table(timings: list[Timing]) -> str:
    rows = ["| In-process check | Calls | Median µs | p99 µs | Mean µs |", "|" + "---|" * 5]
    rows += [
        f"| {t.check} | {t.iterations:,} | {t.median_us:,.1f} | {t.p99_us:,.1f} "
        f"| {t.mean_us:,.1f} |"
        for t in timings
    ]
    return "\n".join(rows)


def authentication(costs: dict[str, AuthCost], timings: list[Timing]) -> list[str]:
    """The cost of authentication: creates with and without tokens, the token check."""
    lines = ["## Cost of authentication", ""]
    if costs:
        baseline = next(iter(costs.values())).baseline
        lines += [
            f"Creates on a fresh store, one server process: the baseline {baseline} "
            "without tokens, and this code with them (same run, same load).",
            "",
            auth_cost_table(costs),
            "",
        ]
    else:
        lines += ["No baseline measured (--no-baseline).", ""]
    if timings:
        worst = max(t.p99_us for t in timings if not t.check.startswith(HOP))
        verdict = "met" if worst < TOKEN_CHECK_TARGET_US else "NOT met"
        lines += [
            token_check_table(timings),
            "",
            f"- Token check: the worst p99 above is {worst:,.0f} µs (target: well under "
            f"{TOKEN_CHECK_TARGET_US:,.0f} µs: {verdict}).",
            "",
        ]
    return lines


def load_table(stages: list[Stage]) -> str:
    rows = [
        "| Database | Grown to | Resources added | Index rows added | Seconds "
        "| Resources/s | VACUUM/ANALYZE s | Stored when searched |",
        "|" + "---|" * 8,
    ]
    rows += [
        f"| {s.database} | {s.size:,} | {s.load.resources:,} | {s.load.index_rows:,} "
        f"| {s.load.seconds:,.0f} | {s.load.per_second:,.0f} | {s.load.analyze_seconds:,.1f} "
        f"| {s.stored:,} |"
        for s in stages
    ]
    return "\n".join(rows)


def targets(stages: list[Stage]) -> list[str]:
    """The issue's two targets, judged from the figures above."""
    lines = ["## Targets", ""]
    by_database: dict[str, list[Stage]] = {}
    for stage in stages:
        by_database.setdefault(stage.database, []).append(stage)
    for database, runs in by_database.items():
        smallest, largest = min(runs, key=lambda s: s.size), max(runs, key=lambda s: s.size)
        worst = max(largest.request_search.p99_ms, largest.poll_search.p99_ms)
        verdict = "met" if worst < P99_TARGET_MS else "NOT met"
        lines.append(
            f"- {database}: worst search p99 at {largest.size:,} is {worst:.1f} ms "
            f"(target < {P99_TARGET_MS:.0f} ms at 1M on PostgreSQL: {verdict} at this size)."
        )
        if largest is not smallest:
            factor = largest.size / smallest.size
            for label, first, last in (
                ("SR by NHS number", smallest.request_search, largest.request_search),
                ("Comm poll", smallest.poll_search, largest.poll_search),
            ):
                lines.append(
                    f"  - {label}: p50 x{last.p50_ms / first.p50_ms:.2f}, "
                    f"p99 x{last.p99_ms / first.p99_ms:.2f} "
                    f"while the store grew x{factor:,.0f}."
                )
    return lines


def machine() -> dict[str, Any]:
    return {
        "code": _revision(),
        "cores (os.cpu_count)": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory": _memory(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _revision() -> str:
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"git {described.stdout.strip()}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def result_name(started: datetime, databases: list[str], quick: bool) -> str:
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{'-'.join(databases)}{'-quick' if quick else ''}"
