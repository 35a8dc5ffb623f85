"""What the benchmarks' cProfile tables share: a profiled function's name, readable, and
the table of the functions with the most time of their own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.report import markdown_table

# Where a path is cut, so a name reads as package/module.py:line(function) wherever the
# repository or the interpreter is installed.
_MARKERS = ("/site-packages/", f"{Path(__file__).resolve().parent.parent}/", "/lib/python3.11/")


def function_name(function: tuple[str, int, str]) -> str:
    path, line, name = function
    if path == "~":
        return name
    for marker in _MARKERS:
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({name})"


def own_time_table(
    own: Sequence[tuple[str, float, float, float]],
    unit: str,
    *,
    calls_format: str = ",.2f",
    own_format: str = ".3f",
) -> str:
    """`own`: (function, calls, own ms, cumulative ms) per `unit`, most own time first."""
    return markdown_table(
        ["Function", f"Calls / {unit}", f"Own ms / {unit}", f"Cumulative ms / {unit}"],
        (
            [
                f"`{name}`",
                format(calls, calls_format),
                format(own_ms, own_format),
                f"{cumulative:.2f}",
            ]
            for name, calls, own_ms, cumulative in own
        ),
    )
