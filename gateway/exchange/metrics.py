"""Delivery metrics in Prometheus's text format, for /metrics.

Outbox depth and the oldest pending delivery's age are read from the database at each
scrape, so every process answers for the whole outbox. Attempts and breaker states are
this process's own workers' (with several processes, sum the attempts across them).
Dead letters (deliveries given up on, waiting for an operator) are in the depth as
state="dead". Every endpoint that takes pushes has a breaker state from the start, 0
(closed) until it fails, so an alert on it has a series to watch.
Subscriptions by status are read from the database at each scrape too (every status
has a series, 0 when none is in it); notifications by outcome are this process's.
Labels are organisations' ODS codes and states: never patient data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.subscriptions.request import Status
from gateway.exchange.breaker import CircuitBreaker
from gateway.exchange.deliveries import PENDING, DeliveryState
from gateway.exchange.outbox import OutboxStore
from gateway.platform.clock import utc_now
from gateway.platform.database import Database
from gateway.subscriptions.store import SubscriptionStore

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
        # Subscriptions' notifications, by how each attempt (or stop) ended.
        self.notifications = Counter(
            "gateway_subscription_notifications",
            "Subscription notifications finished or retried by this process's workers, by "
            "outcome (delivered, retrying, dead, stopped).",
            ["outcome"],
            registry=self.registry,
        )
        # Not a delivery's, but this process's registry: IG reads refused because a log
        # row disagreed with its signed bytes (gateway.access_log.derivation). Alert on any.
        self.audit_integrity_failures = Counter(
            "gateway_audit_integrity_failures",
            "Access-log reads refused because a row disagreed with its signed bytes.",
            registry=self.registry,
        )

    def watch(
        self,
        database: Database,
        breakers: Callable[[], Sequence[CircuitBreaker]],
        endpoints: Callable[[], Iterable[str]],
    ) -> None:
        """`endpoints`: the ODS codes of the endpoints sent to (pushes, notifications), as
        configured now."""
        self.registry.register(_OutboxCollector(database, breakers, endpoints))

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
        self,
        database: Database,
        breakers: Callable[[], Sequence[CircuitBreaker]],
        endpoints: Callable[[], Iterable[str]],
    ) -> None:
        self._database = database
        self._breakers = breakers
        self._endpoints = endpoints

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utc_now()
        with self._database.read() as connection:
            depth = OutboxStore(connection).depth((*PENDING, DeliveryState.DEAD))
            subscriptions = SubscriptionStore(connection).counts()
        pending = GaugeMetricFamily(
            "gateway_outbox_depth",
            "Deliveries not yet finished (queued, in-flight, retrying) or given up on "
            "(dead, waiting for an operator), by destination and state.",
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
            if first is not None and state != DeliveryState.DEAD:
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
        worst: dict[str, int] = dict.fromkeys(self._endpoints(), 0)
        for one in self._breakers():
            for destination in one.endpoints():
                value = _BREAKER_STATES[one.state(destination, now)]
                worst[destination] = max(worst.get(destination, 0), value)
        for destination, value in sorted(worst.items()):
            breaker.add_metric([destination], value)
        yield breaker
        by_status = GaugeMetricFamily(
            "gateway_subscriptions",
            "FHIR Subscriptions by status (requested, active, error, off).",
            labels=["status"],
        )
        for status in Status:
            by_status.add_metric([status.value], subscriptions.get(status.value, 0))
        yield by_status
