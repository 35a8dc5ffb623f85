"""What every benchmark's results share: how a report opens (title, command, machine),
its Markdown tables, and where it goes. The Markdown summary is written to the results
directory (bench/results/, committed); every raw figure, as JSON, to `raw/` inside it,
which git ignores: the summaries are the record, the raw figures are for digging."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RAW = "raw"  # the results directory's ignored subdirectory for the JSON


class Results(ABC):
    """A benchmark's report (a dataclass): Markdown for people, JSON with every figure."""

    @abstractmethod
    def markdown(self) -> str:
        """The report as people read it, in bench/results/."""

    def raw(self) -> dict[str, Any]:
        """Every field, as `dataclasses.asdict` gives it; a report may add derived ones."""
        return asdict(cast("DataclassInstance", self))

    def write(self, directory: Path, name: str) -> Path:
        """The Markdown to `directory`/`name`.md, the JSON to raw/ beside it; returns the
        Markdown's path. Called again as figures arrive, so partial results survive."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.md"
        path.write_text(self.markdown())
        raw = raw_path(path)
        raw.parent.mkdir(exist_ok=True)
        raw.write_text(json.dumps(_finite(self.raw()), indent=2, default=str) + "\n")
        return path


@dataclass
class BenchmarkReport(Results):
    """A benchmark's report: when it ran, the command, the machine, the settings and the
    versions measured; each benchmark's own figures follow in its subclass."""

    started: datetime
    command: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    versions: dict[str, str] = field(default_factory=dict)

    def header(self, title: str) -> list[str]:
        """The report's opening lines: title, command line, then the machine, versions
        and settings as a list."""
        facts = (self.machine, self.versions, self.settings)
        return [
            f"# {title}, {self.started:%Y-%m-%d %H:%M} UTC",
            "",
            f"Command: `{self.command}`",
            "",
            *(f"- {key}: {value}" for group in facts for key, value in group.items()),
        ]


def raw_path(markdown: Path) -> Path:
    return markdown.parent / RAW / f"{markdown.stem}.json"


def print_written(path: Path) -> None:
    print(f"\nwritten to {path} and {raw_path(path)}")


def _finite(value: Any) -> Any:
    """NaN (a figure with nothing to measure) as JSON's null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def result_name(started: datetime, label: str, *, quick: bool = False) -> str:
    """`<timestamp>-<label>`, and `-quick` for a smoke run."""
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{label}{'-quick' if quick else ''}"


# -- Markdown --------------------------------------------------------------------------


def markdown_table(headers: str | Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table: a header row, its rule, then one row per item of `rows`.
    `headers` as one string separates them with " | "."""
    if isinstance(headers, str):
        headers = headers.split(" | ")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def code_blocks(blocks_by_name: dict[str, list[str]]) -> list[str]:
    """A heading and a fenced block per name: query plans, as the reports show them."""
    lines: list[str] = []
    for name, blocks in blocks_by_name.items():
        lines += [f"### {name}", "", "```", *blocks, "```", ""]
    return lines


class CallTimings(Protocol):
    @property
    def check(self) -> str: ...
    @property
    def iterations(self) -> int: ...
    @property
    def median_us(self) -> float: ...
    @property
    def p99_us(self) -> float: ...
    @property
    def mean_us(self) -> float: ...


def timings_table(timings: Sequence[CallTimings]) -> str:
    """In-process calls timed one at a time (bench/stats.py's CallTiming)."""
    return markdown_table(
        ["In-process check", "Calls", "Median µs", "p99 µs", "Mean µs"],
        (
            [
                t.check,
                f"{t.iterations:,}",
                *(f"{us:,.1f}" for us in (t.median_us, t.p99_us, t.mean_us)),
            ]
            for t in timings
        ),
    )


class Sized(Protocol):
    @property
    def database(self) -> str: ...
    @property
    def size(self) -> int: ...


S = TypeVar("S", bound=Sized)


def largest_per_database(stages: Iterable[S]) -> list[S]:
    """Each database's stage at its largest size, in the order the databases came."""
    largest: dict[str, S] = {}
    for stage in stages:
        if stage.database not in largest or stage.size > largest[stage.database].size:
            largest[stage.database] = stage
    return list(largest.values())


# -- the machine -----------------------------------------------------------------------


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
