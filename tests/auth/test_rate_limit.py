"""Per-client token buckets and the Retry-After they lead to."""

from __future__ import annotations

import pytest

from gateway.auth.rate_limit import RateLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> RateLimiter:
    return RateLimiter(clock)


def test_a_full_burst_is_allowed_at_once_and_the_next_is_refused(limiter: RateLimiter) -> None:
    assert [limiter.acquire("client", 2, 3) for _ in range(3)] == [None, None, None]
    assert limiter.acquire("client", 2, 3) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("per_second", "wait"), [(1, 1.0), (4, 0.25), (0.5, 2.0)], ids=["1/s", "4/s", "0.5/s"]
)
def test_the_wait_is_the_time_until_one_token_refills(
    limiter: RateLimiter, per_second: float, wait: float
) -> None:
    assert limiter.acquire("client", per_second, 1) is None
    assert limiter.acquire("client", per_second, 1) == pytest.approx(wait)


def test_the_wait_shrinks_as_time_passes(limiter: RateLimiter, clock: Clock) -> None:
    assert limiter.acquire("client", 1, 1) is None
    clock.now += 0.75
    assert limiter.acquire("client", 1, 1) == pytest.approx(0.25)


def test_a_refused_request_takes_no_token(limiter: RateLimiter, clock: Clock) -> None:
    assert limiter.acquire("client", 1, 1) is None
    for _ in range(5):
        assert limiter.acquire("client", 1, 1) == pytest.approx(1.0)
    clock.now += 1
    assert limiter.acquire("client", 1, 1) is None


def test_tokens_refill_at_the_configured_rate(limiter: RateLimiter, clock: Clock) -> None:
    for _ in range(5):
        assert limiter.acquire("client", 10, 5) is None
    assert limiter.acquire("client", 10, 5) is not None
    clock.now += 0.2  # two tokens
    assert limiter.acquire("client", 10, 5) is None
    assert limiter.acquire("client", 10, 5) is None
    assert limiter.acquire("client", 10, 5) is not None


def test_the_bucket_never_fills_beyond_the_burst(limiter: RateLimiter, clock: Clock) -> None:
    assert limiter.acquire("client", 1, 2) is None
    clock.now += 3600
    assert limiter.acquire("client", 1, 2) is None
    assert limiter.acquire("client", 1, 2) is None
    assert limiter.acquire("client", 1, 2) == pytest.approx(1.0)


def test_keys_have_separate_buckets(limiter: RateLimiter) -> None:
    assert limiter.acquire("a", 1, 1) is None
    assert limiter.acquire("a", 1, 1) is not None
    assert limiter.acquire("b", 1, 1) is None
    assert limiter.acquire("b", 1, 1) is not None


def test_the_default_clock_allows_a_first_request() -> None:
    assert RateLimiter().acquire("client", 1, 1) is None


@pytest.mark.parametrize(
    ("seconds", "header"),
    [(0, "1"), (0.001, "1"), (0.5, "1"), (1, "1"), (1.0001, "2"), (2.5, "3"), (30, "30")],
    ids=["zero", "a-millisecond", "half", "one", "just-over-one", "two-and-a-half", "thirty"],
)
def test_retry_after_rounds_up_to_whole_seconds_and_is_never_zero(
    seconds: float, header: str
) -> None:
    assert retry_after_header(seconds) == header


def test_refilled_buckets_are_forgotten_so_addresses_cannot_grow_them_for_ever(
    limiter: RateLimiter, clock: Clock
) -> None:
    for address in range(1000):
        assert limiter.acquire(f"anonymous 10.0.{address // 256}.{address % 256}", 2, 20) is None
    busy = "anonymous 192.0.2.1"
    for _ in range(20):
        limiter.acquire(busy, 0.01, 20)
    assert len(limiter) == 1001
    clock.now += 61  # every bucket above has refilled but the busy one (0.6 of 20 tokens)
    assert limiter.acquire("anonymous 192.0.2.2", 2, 20) is None
    assert len(limiter) == 2
    # The busy address is still limited: forgetting only ever drops a full bucket.
    assert limiter.acquire(busy, 0.01, 20) is not None
