"""What an answer means and when to retry: BaRS duplicates count as delivered, transient
failures are retried with full jitter never sooner than Retry-After, and the rest are
dead-lettered at once."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from gateway.configuration.endpoints import RetryPolicy
from gateway.exchange.policy import Verdict, backoff, exhausted, judge, parse_retry_after

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def outcome(code: str) -> bytes:
    return json.dumps(
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code}]}
    ).encode()


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        (200, b"", Verdict.DELIVERED),
        (201, b"", Verdict.DELIVERED),
        (409, outcome("duplicate"), Verdict.DELIVERED),
        (409, outcome("conflict"), Verdict.DEAD),
        (408, b"", Verdict.RETRY),
        (425, b"", Verdict.RETRY),
        (429, b"", Verdict.RETRY),
        (500, b"", Verdict.RETRY),
        (503, outcome("transient"), Verdict.RETRY),
        (400, outcome("invalid"), Verdict.DEAD),
        (401, b"", Verdict.DEAD),
        (404, b"", Verdict.DEAD),
        (422, outcome("business-rule"), Verdict.DEAD),
    ],
)
def test_each_answer_has_one_meaning(status: int, body: bytes, verdict: Verdict) -> None:
    assert judge(status, body, None, NOW).verdict is verdict


def test_the_summary_keeps_the_status_and_issue_codes_never_the_body() -> None:
    body = json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"code": "invalid", "diagnostics": "NHS number 9434765919 is wrong"}],
        }
    ).encode()
    answer = judge(400, body, None, NOW)
    assert answer.summary == "HTTP 400 (invalid)"
    assert "9434765919" not in answer.summary


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    assert parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert parse_retry_after("Mon, 30 Nov 2026 12:05:00 GMT", NOW) == timedelta(minutes=5)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert judge(503, b"", "30", NOW).retry_after == timedelta(seconds=30)


def test_backoff_is_full_jitter_under_a_growing_capped_ceiling() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=60, max_attempts=10, max_age_hours=1)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (9, 60)]:
        waits = [backoff(policy, attempts, None, rng) for _ in range(200)]
        assert all(timedelta(0) <= wait <= timedelta(seconds=ceiling) for wait in waits)
        # Spread over the whole range, not clustered at the ceiling.
        assert min(waits) < timedelta(seconds=ceiling / 4)
        assert max(waits) > timedelta(seconds=ceiling * 3 / 4)


def test_backoff_never_comes_sooner_than_retry_after() -> None:
    policy = RetryPolicy(base_seconds=1, cap_seconds=300)
    rng = random.Random(1)
    waits = [backoff(policy, 1, timedelta(seconds=45), rng) for _ in range(50)]
    assert all(wait >= timedelta(seconds=45) for wait in waits)


def test_attempts_end_at_the_count_or_the_age() -> None:
    policy = RetryPolicy(max_attempts=3, max_age_hours=2)
    assert not exhausted(policy, 2, NOW, NOW + timedelta(hours=1))
    assert exhausted(policy, 3, NOW, NOW + timedelta(minutes=1))
    assert exhausted(policy, 1, NOW, NOW + timedelta(hours=2, seconds=1))
