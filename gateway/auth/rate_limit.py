"""Per-client token buckets, kept in the process.

Each gateway process keeps its own buckets, so with N processes a client may reach N
times its configured rate; size the limit per process (docs/access.md says so).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, per_second: float, burst: int) -> float | None:
        """Take one token for key: None if taken, else the seconds until one is free."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(burst), now)
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * per_second)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return (1 - bucket.tokens) / per_second


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; never 0, or a client would retry at once."""
    return str(max(1, math.ceil(seconds)))
