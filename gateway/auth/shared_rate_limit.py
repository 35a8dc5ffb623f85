"""Client rate limits shared by every process on one PostgreSQL store.

With a bucket in each process, N gateway processes admit N times a client's configured
rate. Here each client has one token bucket, a row of `rate_limit_buckets`, refilled and
taken from by a single `INSERT ... ON CONFLICT DO UPDATE`: the row lock serialises the
processes, so the bucket is exact, and the refill reads the database's clock, so hosts'
clocks need not agree. It costs one round trip per authenticated request, measured in
bench/shared_rate_limit.py (bench/README.md, "Shared rate limit").

SQLite is one process by design and keeps the in-process limiter
(gateway.auth.rate_limit); anonymous and token-endpoint limits stay per process and
address everywhere (they guard each process's own sockets, and an address's flood
should not cost a database write per refused request).
"""

from __future__ import annotations

import anyio.to_thread
from sqlalchemy import text

from gateway.platform.database import Database

# One statement: the bucket refilled for the time since it was last touched, capped at
# the burst, then one token taken if there is one. Every SET expression reads the row as
# it was (b.*), and `admitted` records whether a token was taken, for RETURNING. Its
# transaction commits without waiting for the WAL flush (synchronous_commit off, for this
# transaction only): a crash may forget the last few takes, which only refills a bucket a
# little early, and the wait for the disk was most of the statement's cost.
_TAKE = text(
    """
    INSERT INTO rate_limit_buckets AS b (key, tokens, updated_at, admitted)
    SELECT :key, CAST(:burst AS double precision) - 1,
           extract(epoch FROM clock_timestamp()), true
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unflushed
    ON CONFLICT (key) DO UPDATE SET
        tokens = CASE
            WHEN least(:burst, b.tokens + (excluded.updated_at - b.updated_at) * :rate) >= 1
            THEN least(:burst, b.tokens + (excluded.updated_at - b.updated_at) * :rate) - 1
            ELSE least(:burst, b.tokens + (excluded.updated_at - b.updated_at) * :rate)
        END,
        updated_at = excluded.updated_at,
        admitted = least(:burst, b.tokens + (excluded.updated_at - b.updated_at) * :rate) >= 1
    RETURNING admitted, tokens
    """
)


class SharedRateLimiter:
    """Token buckets in the store, one per key, shared by every process using it."""

    def __init__(self, database: Database) -> None:
        if database.dialect != "postgresql":
            raise ValueError("the shared rate limiter needs PostgreSQL")
        self._database = database

    def acquire_blocking(self, key: str, per_second: float, burst: int) -> float | None:
        """Take one token for key: None if taken, else the seconds until one is free."""
        with self._database.write() as connection:
            admitted, tokens = connection.execute(
                _TAKE, {"key": key, "rate": per_second, "burst": burst}
            ).one()
        if admitted:
            return None
        return (1 - float(tokens)) / per_second

    async def acquire(self, key: str, per_second: float, burst: int) -> float | None:
        """As acquire_blocking, off the event loop."""
        return await anyio.to_thread.run_sync(self.acquire_blocking, key, per_second, burst)
