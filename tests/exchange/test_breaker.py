"""The circuit breaker: open after a run of failures, one probe after the cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.exchange.breaker import CircuitBreaker

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_run_of_failures_opens_the_circuit_and_a_success_closes_it() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=timedelta(seconds=30))
    for _ in range(2):
        breaker.failed("RZZ", NOW)
    assert breaker.allows("RZZ", NOW)
    breaker.failed("RZZ", NOW)
    assert breaker.state("RZZ", NOW) == "open"
    assert not breaker.allows("RZZ", NOW + timedelta(seconds=29))
    # Other endpoints are untouched.
    assert breaker.allows("R1A", NOW)
    # After the cooldown, one probe goes through; a second waits for its outcome.
    later = NOW + timedelta(seconds=31)
    assert breaker.allows("RZZ", later)
    assert not breaker.allows("RZZ", later)
    breaker.succeeded("RZZ")
    assert breaker.state("RZZ", later) == "closed"
    assert breaker.allows("RZZ", later)


def test_a_failed_probe_opens_the_circuit_again() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=timedelta(seconds=10))
    breaker.failed("RZZ", NOW)
    probe_at = NOW + timedelta(seconds=11)
    assert breaker.allows("RZZ", probe_at)
    breaker.failed("RZZ", probe_at)
    assert not breaker.allows("RZZ", probe_at + timedelta(seconds=5))


def test_open_means_resting_and_half_open_is_not_open() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=timedelta(seconds=30))
    assert not breaker.is_open("RZZ", NOW)
    breaker.failed("RZZ", NOW)
    assert breaker.is_open("RZZ", NOW + timedelta(seconds=29))
    assert breaker.reopens_at("RZZ") == NOW + timedelta(seconds=30)
    # Half-open: claimed again, and the first delivery sent is the probe.
    assert not breaker.is_open("RZZ", NOW + timedelta(seconds=30))
