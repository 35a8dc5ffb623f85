"""The figures every benchmark reduces its samples to: nearest-rank percentiles, and the
median, p99 and mean of in-process calls timed one at a time."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least `fraction` of them at or below
    (p99 of 500 values is the 495th smallest); NaN when there is none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class CallTiming:
    """One in-process call, timed `iterations` times one call at a time."""

    check: str
    iterations: int
    median_us: float
    p99_us: float
    mean_us: float
    # How the timed calls came out, where that varies ("permit consent:permit"...).
    outcomes: dict[str, int] = field(default_factory=dict)


def time_calls(calls: int, call: Callable[[int], object]) -> list[int]:
    """Nanoseconds of each of `calls` calls of `call(i)`, after a full collection."""
    gc.collect()
    clock = time.perf_counter_ns
    samples = [0] * calls
    for i in range(calls):
        started = clock()
        call(i)
        samples[i] = clock() - started
    return samples


def call_timing(
    check: str, samples_ns: Sequence[int], outcomes: dict[str, int] | None = None
) -> CallTiming:
    return CallTiming(
        check=check,
        iterations=len(samples_ns),
        median_us=percentile(samples_ns, 0.5) / 1000,
        p99_us=percentile(samples_ns, 0.99) / 1000,
        mean_us=sum(samples_ns) / len(samples_ns) / 1000,
        outcomes=dict(outcomes or {}),
    )
