"""Delivery metrics in Prometheus's text format, for /metrics.

Outbox depth and the oldest pending delivery's age are read from the database at each
scrape, so every process answers for the whole outbox. Attempts and breaker states are
this process's own workers' (with several processes, sum the attempts across them).
Labels are organisations' ODS codes and states: never patient data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.exchange.breaker import CircuitBreaker
from gateway.store.database import Database
from gateway.store.outbox import OutboxStore

_BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}


class DeliveryMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.attempts = Counter(
            "gateway_delivery_attempts",
            "Delivery attempts by this process's workers, by destination and verdict.",
            ["destination", "verdict"],
            registry=self.registry,
        )

    def watch(self, database: Database, breakers: Callable[[], Sequence[CircuitBreaker]]) -> None:
        self.registry.register(_OutboxCollector(database, breakers))

    @contextmanager
    def served_at(self, host: str, port: int) -> Iterator[None]:
        """These metrics at http://host:port/metrics, on a listener of their own (a
        thread), while the block runs: the monitoring network reaches this port only."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


class _OutboxCollector(Collector):
    def __init__(
        self, database: Database, breakers: Callable[[], Sequence[CircuitBreaker]]
    ) -> None:
        self._database = database
        self._breakers = breakers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.now(UTC)
        with self._database.read() as connection:
            depth = OutboxStore(connection).depth()
        pending = GaugeMetricFamily(
            "gateway_outbox_depth",
            "Deliveries not yet finished, by destination and state.",
            labels=["destination", "state"],
        )
        oldest = GaugeMetricFamily(
            "gateway_outbox_oldest_age_seconds",
            "Age of the oldest unfinished delivery, by destination.",
            labels=["destination"],
        )
        ages: dict[str, float] = {}
        for (destination, state), (count, first) in sorted(depth.items()):
            pending.add_metric([destination, state], count)
            if first is not None:
                age = (now - first).total_seconds()
                ages[destination] = max(ages.get(destination, 0.0), age)
        for destination, age in sorted(ages.items()):
            oldest.add_metric([destination], age)
        yield pending
        yield oldest
        breaker = GaugeMetricFamily(
            "gateway_delivery_breaker_state",
            "Circuit breaker per destination in this process: 0 closed, 1 half-open, 2 open.",
            labels=["destination"],
        )
        worst: dict[str, int] = {}
        for one in self._breakers():
            for destination in one.endpoints():
                value = _BREAKER_STATES[one.state(destination, now)]
                worst[destination] = max(worst.get(destination, 0), value)
        for destination, value in sorted(worst.items()):
            breaker.add_metric([destination], value)
        yield breaker
