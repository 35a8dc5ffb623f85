"""Client token buckets kept in PostgreSQL, one per client for every process: exact
under concurrent takers, refilled by the database's clock. (N real processes together
admitting about the configured rate: tests/platform/test_cluster.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.auth.shared_rate_limit import SharedRateLimiter
from gateway.platform.database import Database
from gateway.platform.errors import ConfigurationError
from gateway.platform.runtime import shared_rate_limiter
from gateway.platform.settings import Settings
from tests.faults import empty_store


@pytest.fixture
def postgres(postgresql_url: str) -> Iterator[Database]:
    database = empty_store(postgresql_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def limiter(postgres: Database) -> SharedRateLimiter:
    return SharedRateLimiter(postgres)


def test_a_full_burst_is_allowed_and_the_next_is_refused_with_its_wait(
    limiter: SharedRateLimiter,
) -> None:
    assert [limiter.acquire_blocking("client", 0.5, 3) for _ in range(3)] == [None] * 3
    wait = limiter.acquire_blocking("client", 0.5, 3)
    assert wait is not None
    assert 1.9 < wait <= 2.0


def test_tokens_refill_at_the_configured_rate(limiter: SharedRateLimiter) -> None:
    assert limiter.acquire_blocking("client", 20, 1) is None
    assert limiter.acquire_blocking("client", 20, 1) is not None
    time.sleep(0.06)
    assert limiter.acquire_blocking("client", 20, 1) is None


def test_keys_have_separate_buckets(limiter: SharedRateLimiter) -> None:
    assert limiter.acquire_blocking("one", 0.01, 1) is None
    assert limiter.acquire_blocking("one", 0.01, 1) is not None
    assert limiter.acquire_blocking("two", 0.01, 1) is None


def test_concurrent_takers_share_one_exact_bucket(postgres: Database) -> None:
    # Eight takers with connections of their own, as eight processes would be.
    limiter = SharedRateLimiter(postgres)
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: limiter.acquire_blocking("client", 0.001, 25), range(400)))
    assert sum(wait is None for wait in waits) == 25


def test_auto_shares_on_postgresql_and_keeps_sqlite_in_process(
    postgres: Database, tmp_path: object
) -> None:
    assert shared_rate_limiter(Settings(), postgres) is not None
    assert shared_rate_limiter(Settings(rate_limit_scope="process"), postgres) is None
    sqlite = Database(f"sqlite:///{tmp_path}/store.db")
    assert shared_rate_limiter(Settings(), sqlite) is None
    with pytest.raises(ConfigurationError, match="needs a PostgreSQL store"):
        shared_rate_limiter(Settings(rate_limit_scope="database"), sqlite)
