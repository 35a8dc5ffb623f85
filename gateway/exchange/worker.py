"""Delivery workers: claim due deliveries from the outbox, re-check consent, send each to
its endpoint, and record the outcome.

Runs inside `gateway serve` (a task in the lifespan) and as `gateway worker` processes for
scale. No database transaction is held while a request is on the wire: a claim (with the
consent re-check) is one short transaction, and a batch of finished outcomes with their
AuditEvents another. A worker that dies between the receiver storing a delivery and its
outcome being recorded leaves a lease that expires; the delivery is claimed again and
sent with the same X-Request-ID and body, which the receiver answers 409 duplicate,
counted as delivered: stored once.

A Subscription's notification (gateway.subscriptions) is claimed, re-checked, sent,
retried and recorded like any delivery, to its organisation's endpoint (authentication,
timeouts, concurrency, retries, breaker) at the URL it carries; its outcome also counts
for or against its Subscription, in the transaction that records it.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import anyio
import httpx
from anyio.abc import TaskGroup
from sqlalchemy import Connection

from core.access_log.event import AuditOutcome
from gateway.access_log import log as audit_log
from gateway.access_log.delivery_events import attempt_events
from gateway.configuration.endpoints import Endpoint
from gateway.configuration.models import GatewayConfig
from gateway.exchange.breaker import CircuitBreaker
from gateway.exchange.deliveries import Delivery, DeliveryState, Recorded
from gateway.exchange.doorbell import Doorbell
from gateway.exchange.flow import Flow
from gateway.exchange.metrics import DeliveryMetrics
from gateway.exchange.outbox import OutboxStore
from gateway.exchange.policy import Verdict, backoff, exhausted
from gateway.exchange.sender import EndpointSender
from gateway.exchange.wakeups import ring_on_notify
from gateway.fhir.store import ResourceStore
from gateway.platform.clock import new_id, utc_now
from gateway.platform.database import Database
from gateway.platform.logging import get_logger
from gateway.platform.settings import Settings
from gateway.sharing.delivery_check import refusals_at_send
from gateway.subscriptions import sending as notifications

log = get_logger(__name__)

# How long a busy worker lets finished deliveries gather before recording them together.
RECORD_LINGER = 0.05
# A delivery held back by an open circuit is looked at again this long after it reopens.
HELD_BACK_PAUSE = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class _Outcome:
    delivery: Delivery
    state: DeliveryState  # delivered, retrying, dead or stopped
    error: str | None
    reference: str | None = None
    retry_at: datetime | None = None
    attempted: bool = True  # False: held back unsent, which is no attempt

    @property
    def audit_outcome(self) -> AuditOutcome:
        if self.state == DeliveryState.DELIVERED:
            return AuditOutcome.SUCCESS
        if self.state == DeliveryState.DEAD:
            return AuditOutcome.SERIOUS_FAILURE
        return AuditOutcome.MINOR_FAILURE

    def recorded(self, now: datetime) -> Recorded:
        if self.state == DeliveryState.RETRYING:
            return Recorded(
                self.delivery.id,
                DeliveryState.RETRYING,
                self.error,
                retry_at=self.retry_at,
                attempted=self.attempted,
            )
        return Recorded(
            self.delivery.id, self.state, self.error, finished_at=now, reference=self.reference
        )

    @property
    def description(self) -> str:
        """What the access log says of it: the destination and the result, no patient data."""
        destination = self.delivery.destination
        if self.state == DeliveryState.RETRYING:
            return f"Delivery to {destination}: will retry ({self.error})"
        return f"Delivery to {destination}: {self.state}" + (
            f" ({self.error})" if self.error else ""
        )


@dataclass(frozen=True, slots=True)
class _Round:
    """What one claim took: the deliveries, with the consent re-check's refusals by id,
    under the configuration they were claimed with."""

    config: GatewayConfig
    claimed: list[Delivery]
    refusals: dict[str, str]


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    lease: timedelta = timedelta(seconds=60)
    batch: int = 32
    poll_interval: float = 0.1
    # The gateway as the access log names it (gateway.access_log.gateway_events.gateway_identity).
    gateway_url: str = "http://127.0.0.1:8080"
    # A Subscription whose notifications fail this many times in a row is set to error.
    subscription_failure_limit: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerSettings:
        return cls(
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            poll_interval=settings.delivery_poll_seconds,
            gateway_url=settings.public_base_url or f"http://{settings.host}:{settings.port}",
            subscription_failure_limit=settings.subscription_failure_limit,
        )


class DeliveryWorker:
    def __init__(
        self,
        database: Database,
        config: Callable[[], GatewayConfig],
        *,
        settings: WorkerSettings = WorkerSettings(),
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        breaker: CircuitBreaker | None = None,
        worker_id: str | None = None,
        metrics: DeliveryMetrics | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        self._database = database
        self._config = config
        self._settings = settings
        self._clock = clock
        # Jitter only spreads retries out; it need not be unpredictable.
        self._rng = rng or random.Random()  # noqa: S311
        self.breaker = breaker or CircuitBreaker()
        self.worker_id = worker_id or f"{socket.gethostname()}:{new_id()[:8]}"
        self._metrics = metrics
        # Rung when work is queued (PostgreSQL NOTIFY, or this process's own push), so an
        # idle worker need not wait out its poll interval.
        self.doorbell = doorbell or Doorbell()
        self._sender = EndpointSender(transport, clock)
        self._limits: dict[tuple[str, int], anyio.Semaphore] = {}

    async def run(self, stopping: anyio.Event) -> None:
        """Deliver until `stopping` is set; an unexpected error is logged, not fatal.

        Continuous: claim (with the consent re-check) while there is room, send each
        delivery as a task of its own within its endpoint's concurrency, and record
        outcomes in batches as they finish. One slow or hung endpoint holds only its own
        deliveries (and its room), never the others'. On stopping, what was claimed is
        still sent and recorded. A worker that dies with outcomes unrecorded leaves
        leases to expire: those deliveries are sent again, under the same ids, and the
        receiver says duplicate.
        """
        batch = self._settings.batch
        flow: Flow[_Outcome] = Flow(limit=4 * batch, per_endpoint=batch)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._ring_when, stopping)
                group.start_soon(self._recording, flow)
                async with anyio.create_task_group() as sends:
                    await self._claiming(stopping, flow, sends)
                flow.close()  # every send has finished: record the rest, then stop
        finally:
            await self.aclose()

    async def run_once(self) -> int:
        """One round, start to end: claim what is due, re-check consent for all of it in
        one read, send it (each endpoint within its concurrency), and record every
        outcome in one transaction. How many deliveries were claimed."""
        round_ = await self._claim_round(self._settings.batch, set())
        if round_ is None:
            return 0
        outcomes: list[_Outcome] = []
        async with anyio.create_task_group() as sends:
            self._dispatch(round_, sends, lambda _, outcome: outcomes.append(outcome))
        await anyio.to_thread.run_sync(self._record_all, outcomes)
        return len(round_.claimed)

    async def _ring_when(self, stopping: anyio.Event) -> None:
        await stopping.wait()
        self.doorbell.ring()

    async def _claiming(
        self, stopping: anyio.Event, flow: Flow[_Outcome], sends: TaskGroup
    ) -> None:
        while not stopping.is_set():
            if flow.room <= 0:
                await flow.changed()
                continue
            # Reset before looking: a ring while looking makes the wait below end at once,
            # so work queued meanwhile is never left for the poll.
            self.doorbell.reset()
            sending = self._config().endpoints.destinations
            busy = {ods for ods in sending if flow.full(ods)}
            if sending and busy == set(sending):
                await flow.changed()  # every endpoint has its fill: claim when one frees
                continue
            try:
                round_ = await self._claim_round(min(self._settings.batch, flow.room), busy)
            except Exception:  # the loop must outlive one bad claim
                log.exception("delivery.claim_failed")
                round_ = None
            if round_ is None:
                # Nothing due (or only for busy endpoints): wait for a ring, a finished
                # send freeing an endpoint, or the poll.
                poll = partial(self.doorbell.wait, self._settings.poll_interval)
                async with anyio.create_task_group() as waiting:
                    waiting.start_soon(_first, poll, waiting)
                    if busy:
                        waiting.start_soon(_first, flow.changed, waiting)
            else:
                self._dispatch(round_, sends, flow.finished, flow.sending)

    async def _recording(self, flow: Flow[_Outcome]) -> None:
        batch = self._settings.batch
        while not flow.drained:
            if not flow.unrecorded:
                await flow.changed()
                continue
            # While more are on the wire, gather up to a batch (for at most RECORD_LINGER)
            # so that a busy worker records in few transactions; alone, record at once.
            with anyio.move_on_after(RECORD_LINGER):
                while flow.unrecorded < batch and flow.in_flight and not flow.closed:
                    await flow.changed()
            finished = flow.take_finished()
            try:
                await anyio.to_thread.run_sync(self._record_all, finished)
            except Exception:  # unrecorded: the leases expire and they are resent
                log.exception("delivery.record_failed")

    async def _claim_round(self, limit: int, busy: set[str]) -> _Round | None:
        config = self._config()
        if not config.endpoints.sends:
            return None  # every receiver pulls, none is notified: nothing to claim
        now = self._clock()
        exclude = busy | {
            endpoint.ods
            for endpoint in config.endpoints.endpoints
            if self.breaker.is_open(endpoint.ods, now)
        }
        return await anyio.to_thread.run_sync(self._claim_and_check, config, now, exclude, limit)

    def _claim_and_check(
        self, config: GatewayConfig, now: datetime, exclude: set[str], limit: int
    ) -> _Round | None:
        claimed = self._claim(now, exclude, limit)
        if not claimed:
            return None
        return _Round(config, claimed, self._refusals(config, claimed))

    def _dispatch(
        self,
        round_: _Round,
        sends: TaskGroup,
        report: Callable[[str, _Outcome], None],
        sending: Callable[[str, str], None] = lambda _id, _endpoint: None,
    ) -> None:
        """Each claimed delivery: sent as a task in `sends`, or at once dead (its
        receiver no longer takes pushes) or stopped (consent); `report` gets each
        outcome, `sending` each delivery that goes on the wire."""
        for delivery in round_.claimed:
            endpoint = _endpoint(round_.config, delivery)
            refusal = round_.refusals.get(delivery.id)
            if endpoint is None:
                outcome = _Outcome(delivery, DeliveryState.DEAD, _no_endpoint(delivery))
                report(delivery.id, outcome)
            elif refusal is not None:
                report(delivery.id, _Outcome(delivery, DeliveryState.STOPPED, refusal))
            else:
                sending(delivery.id, endpoint.ods)
                sends.start_soon(self._attempt, endpoint, delivery, report)

    async def aclose(self) -> None:
        await self._sender.aclose()

    def _claim(self, now: datetime, exclude: set[str], limit: int) -> list[Delivery]:
        with self._database.write() as connection:
            return OutboxStore(connection).claim(
                self.worker_id, now, self._settings.lease, limit, exclude=exclude
            )

    def _refusals(self, config: GatewayConfig, claimed: list[Delivery]) -> dict[str, str]:
        """Each delivery consent or an agreement now refuses, by id, with the rule; and
        each notification its Subscription no longer wants sent."""
        now = self._clock()
        with self._database.read() as connection:
            unwanted = notifications.refusals_at_send(connection, claimed, config, now)
            found = refusals_at_send(
                ResourceStore(connection),
                [d for d in claimed if d.id not in unwanted],
                config.agreements,
                now,
            )
        return unwanted | {
            delivery_id: refusal.describe() for delivery_id, refusal in found.items()
        }

    async def _attempt(
        self, endpoint: Endpoint, delivery: Delivery, report: Callable[[str, _Outcome], None]
    ) -> None:
        report(delivery.id, await self._attempted(endpoint, delivery))

    async def _attempted(self, endpoint: Endpoint, delivery: Delivery) -> _Outcome:
        async with self._limit(endpoint):
            if not self.breaker.allows(endpoint.ods, self._clock()):
                # The circuit opened since this was claimed (or another delivery is the
                # probe): not sent, so not an attempt; it waits for the circuit.
                return self._held_back(endpoint, delivery)
            answer, reference = await self._sender.send(endpoint, delivery)
        now = self._clock()
        if self._metrics is not None:
            self._metrics.attempts.labels(endpoint.ods, answer.verdict.value).inc()
        if answer.verdict is Verdict.RETRY:
            self.breaker.failed(endpoint.ods, now)
        else:  # it answered: up, even if it refused this one
            self.breaker.succeeded(endpoint.ods)
        if answer.verdict is Verdict.DELIVERED:
            return _Outcome(delivery, DeliveryState.DELIVERED, None, reference=reference)
        if answer.verdict is Verdict.DEAD or exhausted(
            endpoint.retry, delivery.attempts, delivery.created_at, now
        ):
            return _Outcome(delivery, DeliveryState.DEAD, answer.summary)
        wait = backoff(endpoint.retry, delivery.attempts, answer.retry_after, self._rng)
        return _Outcome(delivery, DeliveryState.RETRYING, answer.summary, retry_at=now + wait)

    def _held_back(self, endpoint: Endpoint, delivery: Delivery) -> _Outcome:
        now = self._clock()
        reopens = self.breaker.reopens_at(endpoint.ods) or now
        return _Outcome(
            delivery,
            DeliveryState.RETRYING,
            "not sent: the circuit to this endpoint is open",
            retry_at=max(reopens, now) + HELD_BACK_PAUSE,
            attempted=False,
        )

    def _limit(self, endpoint: Endpoint) -> anyio.Semaphore:
        # Keyed by the concurrency too, so that a reload changing it takes effect.
        key = (endpoint.ods, endpoint.concurrency)
        limit = self._limits.get(key)
        if limit is None:
            limit = anyio.Semaphore(endpoint.concurrency)
            self._limits[key] = limit
        return limit

    def _record_all(self, outcomes: list[_Outcome]) -> None:
        """Every outcome of a round, and its AuditEvent, in one transaction."""
        if not outcomes:
            return
        now = self._clock()
        with self._database.write() as connection:
            owned = OutboxStore(connection).record(
                self.worker_id, [outcome.recorded(now) for outcome in outcomes]
            )
            self._record_notifications(
                connection, [o for o in outcomes if o.delivery.id in owned], now
            )
            events = []
            for outcome in outcomes:
                delivery = outcome.delivery
                if delivery.id not in owned:
                    log.warning("delivery.lease_lost", delivery=delivery.id)
                    continue
                if outcome.attempted or outcome.state != DeliveryState.RETRYING:
                    # Held back unsent is neither a disclosure nor a decision on one.
                    events += attempt_events(
                        delivery,
                        outcome.audit_outcome,
                        outcome.description,
                        self._settings.gateway_url,
                    )
                log.info("delivery." + outcome.state, delivery=delivery.id)
            audit_log.append(connection, events)

    def _record_notifications(
        self, connection: Connection, outcomes: list[_Outcome], now: datetime
    ) -> None:
        """What the notifications' outcomes mean for their Subscriptions, and the count."""
        taken = [
            notifications.NotificationOutcome(o.delivery, o.state, o.error, o.attempted)
            for o in outcomes
            if o.delivery.is_notification
        ]
        if not taken:
            return
        notifications.record_outcomes(
            connection, taken, failure_limit=self._settings.subscription_failure_limit, now=now
        )
        if self._metrics is not None:
            for outcome in taken:
                if outcome.attempted or outcome.state != DeliveryState.RETRYING:
                    self._metrics.notifications.labels(outcome.state.value).inc()


def _no_endpoint(delivery: Delivery) -> str:
    """Why a delivery is given up on when there is no endpoint for it any more."""
    if delivery.is_notification:
        return "its URL is no longer under one configured for this organisation"
    return "the receiver no longer takes pushes"


def _endpoint(config: GatewayConfig, delivery: Delivery) -> Endpoint | None:
    """The endpoint a delivery is sent with: its receiver's push endpoint; for a
    notification, its organisation's, while the URL it carries is still under one
    configured for it."""
    if not delivery.is_notification:
        return config.endpoints.push_endpoint(delivery.destination)
    if not notifications.url_allowed(delivery, config):
        return None
    return config.endpoints.notification_endpoint(delivery.destination)


async def _first(wait: Callable[[], Awaitable[None]], group: TaskGroup) -> None:
    """Await `wait`, then end its sibling waits in `group`."""
    await wait()
    group.cancel_scope.cancel()


async def run_workers(
    workers: list[DeliveryWorker], stopping: anyio.Event, database: Database
) -> None:
    """Run the workers until `stopping`; on PostgreSQL, wake them on NOTIFY."""
    async with anyio.create_task_group() as group:
        if database.dialect == "postgresql":
            group.start_soon(ring_on_notify, database.url, [w.doorbell for w in workers])
        async with anyio.create_task_group() as running:
            for worker in workers:
                running.start_soon(worker.run, stopping)
        group.cancel_scope.cancel()
