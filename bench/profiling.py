"""What the benchmarks' profiles share: the gateway's work run on one thread, so that
cProfile (which sees one thread) sees all of it; timing without and then with the
profiler; the figures of the functions a report names and of those with the most time
of their own; and the table of the latter."""

from __future__ import annotations

import cProfile
import gc
import pstats
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import anyio.to_thread

from bench.report import markdown_table

T = TypeVar("T")
# (label, file, function): a label's figure is the sum over the functions that match (a
# coroutine or generator counts a call per resumption); an empty label adds to the one
# before it.
Selected = tuple[str, str, str]
OwnRow = tuple[str, float, float, float]  # function, calls, own ms, cumulative ms (per unit)


@contextmanager
def inline_threads() -> Iterator[None]:
    """`anyio.to_thread.run_sync` runs the function on the calling thread: the work the
    gateway hands to worker threads runs here, one thing at a time."""

    async def inline(function: Callable[..., Any], *args: Any, **_: Any) -> Any:
        return function(*args)

    with mock.patch.object(anyio.to_thread, "run_sync", inline):
        yield


async def timed(work: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    """Seconds `work` took, after a full collection, and what it returned."""
    gc.collect()
    began = time.perf_counter()
    result = await work()
    return time.perf_counter() - began, result


async def under_profiler(work: Callable[[], Awaitable[T]]) -> tuple[float, T, cProfile.Profile]:
    """The same as `timed`, under cProfile."""
    profiler = cProfile.Profile()
    gc.collect()
    began = time.perf_counter()
    profiler.enable()
    result = await work()
    profiler.disable()
    return time.perf_counter() - began, result, profiler


@dataclass
class Figures:
    """Per unit (a request, a delivery): label -> (calls, cumulative ms) of the selected
    functions, and the `top` functions by own time."""

    selected: dict[str, tuple[float, float]] = field(default_factory=dict)
    own: list[OwnRow] = field(default_factory=list)


def figures(
    profiler: cProfile.Profile, selected: Sequence[Selected], units: int, *, top: int
) -> Figures:
    entries: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    found = Figures()
    label = ""
    for name, path, wanted in selected:
        label = name or label
        calls, cumulative = 0, 0.0
        for (file, _, function), (_, called, _, spent, _) in entries.items():
            if function == wanted and file.endswith(path):
                calls += called
                cumulative += spent
        if calls:
            earlier = found.selected.get(label, (0.0, 0.0))
            found.selected[label] = (
                earlier[0] + calls / units,
                earlier[1] + 1000 * cumulative / units,
            )
    rows = [
        (function_name(function), called / units, 1000 * own / units, 1000 * spent / units)
        for function, (_, called, own, spent, _) in entries.items()
    ]
    found.own = sorted(rows, key=lambda row: -row[2])[:top]
    return found


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
    own: Sequence[OwnRow],
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
