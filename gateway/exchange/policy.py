"""What an attempt's answer means, and when to try again.

BaRS: a receiver answers a repeat of a request it already processed with 409 and
issue.code duplicate; the sender counts that as delivered. Network errors, 408, 425, 429
and 5xx are worth retrying; any other answer will not change by repeating the request,
so the delivery is dead-lettered at once, with the answer kept for the operator.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from gateway.configuration.endpoints import RetryPolicy

RETRYABLE_STATUSES = frozenset({408, 425, 429})


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Answer:
    verdict: Verdict
    summary: str  # for the operator: a status and a FHIR issue code, never a body
    retry_after: timedelta | None = None


def judge(status: int, body: bytes, retry_after: str | None, now: datetime) -> Answer:
    if 200 <= status < 300:
        return Answer(Verdict.DELIVERED, f"HTTP {status}")
    codes = _issue_codes(body)
    if status == 409 and "duplicate" in codes:
        return Answer(Verdict.DELIVERED, "HTTP 409 duplicate: the receiver already had it")
    summary = f"HTTP {status}" + (f" ({', '.join(codes)})" if codes else "")
    if status in RETRYABLE_STATUSES or status >= 500:
        return Answer(Verdict.RETRY, summary, parse_retry_after(retry_after, now))
    return Answer(Verdict.DEAD, summary)


def backoff(
    policy: RetryPolicy,
    attempts: int,
    retry_after: timedelta | None,
    rng: random.Random,
) -> timedelta:
    """Full jitter (a random wait up to min(cap, base * 2**(attempts-1))), but never
    sooner than the receiver's Retry-After."""
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2 ** max(attempts - 1, 0))
    wait = timedelta(seconds=rng.uniform(0, ceiling))
    if retry_after is not None:
        wait = max(wait, min(retry_after, timedelta(seconds=policy.cap_seconds)))
    return wait


def exhausted(policy: RetryPolicy, attempts: int, created_at: datetime, at: datetime) -> bool:
    """No more attempts: the count is used up, or the next would be too late to matter."""
    too_old = at - created_at > timedelta(hours=policy.max_age_hours)
    return attempts >= policy.max_attempts or too_old


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """RFC 9110: seconds, or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return timedelta(seconds=min(int(value), 86_400))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(moment - now, timedelta(0))


def _issue_codes(body: bytes) -> list[str]:
    try:
        outcome = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return []
    issues = outcome.get("issue")
    return [
        issue["code"]
        for issue in (issues if isinstance(issues, list) else [])
        if isinstance(issue, dict)
        and isinstance(issue.get("code"), str)
        and issue["code"].replace("-", "").isalpha()
    ][:5]
