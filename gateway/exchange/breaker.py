"""A circuit breaker per endpoint: after `threshold` failures in a row, the endpoint is
not tried for `cooldown`; then one delivery is let through (half-open), and its outcome
closes the circuit or opens it again. So a Trust that is down costs one attempt per
cooldown, not one per delivery, and never slows deliveries to the others.

Any answer from the endpoint, even a refusal of one message, shows it is up: only
network errors, timeouts and answers worth a retry (5xx, 429...) count as failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class CircuitBreaker:
    threshold: int = 5
    cooldown: timedelta = timedelta(seconds=30)
    _failures: dict[str, int] = field(default_factory=dict)
    _open_until: dict[str, datetime] = field(default_factory=dict)
    _probing: set[str] = field(default_factory=set)

    def is_open(self, endpoint: str, now: datetime) -> bool:
        """Whether the endpoint is resting (no delivery to it should even be claimed)."""
        until = self._open_until.get(endpoint)
        return until is not None and now < until

    def reopens_at(self, endpoint: str) -> datetime | None:
        return self._open_until.get(endpoint)

    def allows(self, endpoint: str, now: datetime) -> bool:
        """Whether a delivery may be sent now: always while closed, never while open,
        and only one at a time (the probe) once half-open."""
        until = self._open_until.get(endpoint)
        if until is None:
            return True
        if now < until or endpoint in self._probing:
            return False
        self._probing.add(endpoint)  # half-open: one delivery goes through
        return True

    def succeeded(self, endpoint: str) -> None:
        self._failures.pop(endpoint, None)
        self._open_until.pop(endpoint, None)
        self._probing.discard(endpoint)

    def failed(self, endpoint: str, now: datetime) -> None:
        self._probing.discard(endpoint)
        failures = self._failures.get(endpoint, 0) + 1
        self._failures[endpoint] = failures
        if failures >= self.threshold:
            self._open_until[endpoint] = now + self.cooldown

    def state(self, endpoint: str, now: datetime) -> str:
        until = self._open_until.get(endpoint)
        if until is None:
            return "closed"
        return "open" if now < until else "half-open"

    def endpoints(self) -> list[str]:
        return sorted(set(self._failures) | set(self._open_until))
