"""Token buckets kept in the process: per client, and per source address for requests
without a valid token and for token requests.

Each gateway process keeps its own buckets here. Client limits on PostgreSQL go to the
store instead (gateway.auth.shared_rate_limit), shared by every process; the limits per
address stay here, so with N processes an address may reach N times them. Buckets
keyed by address come and go with the addresses: one that has refilled is forgotten (it
would start full again anyway), so a flood from many addresses cannot grow them for ever.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# How often refilled buckets are forgotten, in the clock's seconds.
_SWEEP_SECONDS = 60.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    per_second: float
    burst: int

    def refilled(self, now: float) -> bool:
        return self.tokens + (now - self.updated) * self.per_second >= self.burst


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._swept = clock()

    def acquire(self, key: str, per_second: float, burst: int) -> float | None:
        """Take one token for key: None if taken, else the seconds until one is free."""
        now = self._clock()
        with self._lock:
            if now - self._swept >= _SWEEP_SECONDS:
                self._forget_refilled(now)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(burst), now, per_second, burst)
            bucket.per_second, bucket.burst = per_second, burst
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * per_second)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return (1 - bucket.tokens) / per_second

    def __len__(self) -> int:
        """How many buckets are kept."""
        return len(self._buckets)

    def _forget_refilled(self, now: float) -> None:
        self._buckets = {k: b for k, b in self._buckets.items() if not b.refilled(now)}
        self._swept = now


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; never 0, or a client would retry at once."""
    return str(max(1, math.ceil(seconds)))
