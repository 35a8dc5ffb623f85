"""Delivery workers: claim due deliveries from the outbox, re-check consent, send each to
its endpoint, and record the outcome.

Runs inside `gateway serve` (a task in the lifespan) and as `gateway worker` processes for
scale. No database transaction is held while a request is on the wire: a claim is one
short transaction, and each outcome another. A worker that dies between the receiver
storing a delivery and its outcome being recorded leaves a lease that expires; the
delivery is claimed again and sent with the same X-Request-ID and body, which the
receiver answers 409 duplicate, counted as delivered: stored once.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from gateway.audit import log as audit_log
from gateway.configuration.endpoints import Endpoint
from gateway.configuration.models import GatewayConfig
from gateway.exchange.audit import attempt_events
from gateway.exchange.breaker import CircuitBreaker
from gateway.exchange.consent_check import refusals_at_send
from gateway.exchange.doorbell import Doorbell
from gateway.exchange.metrics import DeliveryMetrics
from gateway.exchange.outbound_auth import SmartTokens, TokenRefused, tls_context
from gateway.exchange.policy import Answer, Verdict, backoff, exhausted, judge
from gateway.exchange.wakeups import ring_on_notify
from gateway.logging import get_logger
from gateway.services.access_trail import Outcome
from gateway.settings import Settings
from gateway.store.database import Database
from gateway.store.outbox import DEAD, DELIVERED, RETRYING, STOPPED, Delivery, OutboxStore, Recorded
from gateway.store.resources import ResourceStore

log = get_logger(__name__)

FHIR_JSON = "application/fhir+json"
# A delivery held back by an open circuit is looked at again this long after it reopens.
HELD_BACK_PAUSE = timedelta(seconds=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Outcome:
    delivery: Delivery
    state: str  # delivered | retrying | dead | stopped
    error: str | None
    reference: str | None = None
    retry_at: datetime | None = None
    attempted: bool = True  # False: held back unsent, which is no attempt

    @property
    def audit_outcome(self) -> Outcome:
        if self.state == DELIVERED:
            return 0
        return 8 if self.state == DEAD else 4

    def recorded(self, now: datetime) -> Recorded:
        if self.state == RETRYING:
            return Recorded(
                self.delivery.id,
                RETRYING,
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
        if self.state == RETRYING:
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
    # The gateway as the access log names it (see gateway.api.access_log.gateway_identity).
    gateway_url: str = "http://127.0.0.1:8080"

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerSettings:
        return cls(
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            poll_interval=settings.delivery_poll_seconds,
            gateway_url=settings.public_base_url or f"http://{settings.host}:{settings.port}",
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
        self._transport = transport
        self._clock = clock
        # Jitter only spreads retries out; it need not be unpredictable.
        self._rng = rng or random.Random()  # noqa: S311
        self.breaker = breaker or CircuitBreaker()
        self.worker_id = worker_id or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._metrics = metrics
        # Rung when work is queued (PostgreSQL NOTIFY, or this process's own push), so an
        # idle worker need not wait out its poll interval.
        self.doorbell = doorbell or Doorbell()
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._tokens: dict[str, SmartTokens] = {}
        self._limits: dict[tuple[str, int], anyio.Semaphore] = {}

    async def run(self, stopping: anyio.Event) -> None:
        """Deliver until `stopping` is set; an unexpected error is logged, not fatal.

        Three stages, so that the database work of one round overlaps the sends of
        another: claiming (with the consent re-check), sending, recording. At most one
        claimed round waits for the sender, and a round's outcomes are recorded while
        the next round is sent. On stopping, what was claimed is still sent and recorded.
        A worker that dies with outcomes unrecorded leaves leases to expire: those
        deliveries are sent again, under the same ids, and the receiver says duplicate.
        """
        claimed_in, claimed_out = anyio.create_memory_object_stream[_Round](1)
        outcomes_in, outcomes_out = anyio.create_memory_object_stream[list[_Outcome]](2)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._ring_when, stopping)
                group.start_soon(self._claiming, stopping, claimed_in)
                group.start_soon(self._sending, claimed_out, outcomes_in)
                await self._recording(outcomes_out)
                group.cancel_scope.cancel()
        finally:
            await self.aclose()

    async def run_once(self) -> int:
        """One round, start to end: claim what is due, re-check consent for all of it in
        one read, send it (each endpoint within its concurrency), and record every
        outcome in one transaction. How many deliveries were claimed."""
        round_ = await self._claim_round()
        if round_ is None:
            return 0
        outcomes = await self._send_round(round_)
        await anyio.to_thread.run_sync(self._record_all, outcomes)
        return len(round_.claimed)

    async def _ring_when(self, stopping: anyio.Event) -> None:
        await stopping.wait()
        self.doorbell.ring()

    async def _claiming(
        self, stopping: anyio.Event, rounds: MemoryObjectSendStream[_Round]
    ) -> None:
        async with rounds:
            while not stopping.is_set():
                # Reset before looking: a ring while looking makes the wait below end at
                # once, so work queued meanwhile is never left for the poll.
                self.doorbell.reset()
                try:
                    round_ = await self._claim_round()
                except Exception:  # the loop must outlive one bad round
                    log.exception("delivery.claim_failed")
                    round_ = None
                if round_ is None:
                    await self.doorbell.wait(self._settings.poll_interval)
                else:
                    await rounds.send(round_)

    async def _sending(
        self,
        rounds: MemoryObjectReceiveStream[_Round],
        outcomes: MemoryObjectSendStream[list[_Outcome]],
    ) -> None:
        async with rounds, outcomes:
            async for round_ in rounds:
                await outcomes.send(await self._send_round(round_))

    async def _recording(self, outcomes: MemoryObjectReceiveStream[list[_Outcome]]) -> None:
        async with outcomes:
            async for round_outcomes in outcomes:
                try:
                    await anyio.to_thread.run_sync(self._record_all, round_outcomes)
                except Exception:  # unrecorded: the leases expire and they are resent
                    log.exception("delivery.record_failed")

    async def _claim_round(self) -> _Round | None:
        config = self._config()
        if not config.endpoints.pushes:
            return None  # every receiver pulls: nothing to claim, no write lock taken
        now = self._clock()
        exclude = {
            endpoint.ods
            for endpoint in config.endpoints.endpoints
            if self.breaker.is_open(endpoint.ods, now)
        }
        return await anyio.to_thread.run_sync(self._claim_and_check, config, now, exclude)

    def _claim_and_check(
        self, config: GatewayConfig, now: datetime, exclude: set[str]
    ) -> _Round | None:
        claimed = self._claim(now, exclude)
        if not claimed:
            return None
        return _Round(config, claimed, self._refusals(config, claimed))

    async def _send_round(self, round_: _Round) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        async with anyio.create_task_group() as group:
            for delivery in round_.claimed:
                endpoint = round_.config.endpoints.push_endpoint(delivery.destination)
                refusal = round_.refusals.get(delivery.id)
                if endpoint is None:
                    outcomes.append(_Outcome(delivery, DEAD, "the receiver no longer takes pushes"))
                elif refusal is not None:
                    outcomes.append(_Outcome(delivery, STOPPED, refusal))
                else:
                    group.start_soon(self._attempt, endpoint, delivery, outcomes)
        return outcomes

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _claim(self, now: datetime, exclude: set[str]) -> list[Delivery]:
        with self._database.write() as connection:
            return OutboxStore(connection).claim(
                self.worker_id, now, self._settings.lease, self._settings.batch, exclude=exclude
            )

    def _refusals(self, config: GatewayConfig, claimed: list[Delivery]) -> dict[str, str]:
        """Each delivery consent or an agreement now refuses, by id, with the rule."""
        with self._database.read() as connection:
            found = refusals_at_send(
                ResourceStore(connection), claimed, config.agreements, self._clock()
            )
        return {delivery_id: refusal.describe() for delivery_id, refusal in found.items()}

    async def _attempt(
        self, endpoint: Endpoint, delivery: Delivery, outcomes: list[_Outcome]
    ) -> None:
        async with self._limit(endpoint):
            if not self.breaker.allows(endpoint.ods, self._clock()):
                # The circuit opened since this was claimed (or another delivery is the
                # probe): not sent, so not an attempt; it waits for the circuit.
                outcomes.append(self._held_back(endpoint, delivery))
                return
            answer, reference = await self._send(endpoint, delivery)
        now = self._clock()
        if self._metrics is not None:
            self._metrics.attempts.labels(endpoint.ods, answer.verdict.value).inc()
        if answer.verdict is Verdict.RETRY:
            self.breaker.failed(endpoint.ods, now)
        else:  # it answered: up, even if it refused this one
            self.breaker.succeeded(endpoint.ods)
        if answer.verdict is Verdict.DELIVERED:
            outcomes.append(_Outcome(delivery, DELIVERED, None, reference=reference))
            return
        if answer.verdict is Verdict.DEAD or exhausted(
            endpoint.retry, delivery.attempts, delivery.created_at, now
        ):
            outcomes.append(_Outcome(delivery, DEAD, answer.summary))
            return
        wait = backoff(endpoint.retry, delivery.attempts, answer.retry_after, self._rng)
        outcomes.append(_Outcome(delivery, RETRYING, answer.summary, retry_at=now + wait))

    def _held_back(self, endpoint: Endpoint, delivery: Delivery) -> _Outcome:
        now = self._clock()
        reopens = self.breaker.reopens_at(endpoint.ods) or now
        return _Outcome(
            delivery,
            RETRYING,
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
            events = []
            for outcome in outcomes:
                delivery = outcome.delivery
                if delivery.id not in owned:
                    log.warning("delivery.lease_lost", delivery=delivery.id)
                    continue
                if outcome.attempted or outcome.state != RETRYING:
                    # Held back unsent is neither a disclosure nor a decision on one.
                    events += attempt_events(
                        delivery,
                        outcome.audit_outcome,
                        outcome.description,
                        self._settings.gateway_url,
                    )
                log.info("delivery." + outcome.state, delivery=delivery.id)
            audit_log.append(connection, events)

    async def _send(self, endpoint: Endpoint, delivery: Delivery) -> tuple[Answer, str | None]:
        client = self._client(endpoint)
        tokens = self._smart_tokens(endpoint)
        headers = {
            "Content-Type": FHIR_JSON,
            "Accept": FHIR_JSON,
            "X-Request-ID": delivery.id,
            "X-Correlation-ID": delivery.correlation_id,
        }
        try:
            response = await self._post(client, endpoint, delivery, headers, tokens)
            if response.status_code == 401 and tokens is not None:
                # The Trust refused our token (revoked, or its clock differs): one more
                # try with a fresh one, then the 401 stands.
                tokens.forget()
                response = await self._post(client, endpoint, delivery, headers, tokens)
        except TokenRefused as refused:
            return Answer(Verdict.RETRY, f"SMART token: {refused}"), None
        except httpx.TimeoutException:
            return Answer(Verdict.RETRY, "timed out"), None
        except httpx.TransportError as error:
            return Answer(Verdict.RETRY, f"network error: {type(error).__name__}"), None
        answer = judge(
            response.status_code,
            response.content,
            response.headers.get("retry-after"),
            self._clock(),
        )
        return answer, _receiver_reference(response)

    async def _post(
        self,
        client: httpx.AsyncClient,
        endpoint: Endpoint,
        delivery: Delivery,
        headers: dict[str, str],
        tokens: SmartTokens | None,
    ) -> httpx.Response:
        if tokens is not None:
            headers = {**headers, "Authorization": f"Bearer {await tokens.token(client)}"}
        return await client.post(
            endpoint.delivery_url, content=delivery.body.encode(), headers=headers
        )

    def _smart_tokens(self, endpoint: Endpoint) -> SmartTokens | None:
        smart = endpoint.authentication.smart
        if smart is None:
            return None
        tokens = self._tokens.get(endpoint.ods)
        if tokens is None:
            tokens = SmartTokens(smart)
            self._tokens[endpoint.ods] = tokens
        return tokens

    def _client(self, endpoint: Endpoint) -> httpx.AsyncClient:
        client = self._clients.get(endpoint.ods)
        if client is None:
            timeouts = endpoint.timeouts
            mtls = endpoint.authentication.mtls
            client = httpx.AsyncClient(
                transport=self._transport,
                verify=tls_context(mtls) if mtls is not None else True,
                timeout=httpx.Timeout(timeouts.read_seconds, connect=timeouts.connect_seconds),
                limits=httpx.Limits(max_connections=endpoint.concurrency),
            )
            self._clients[endpoint.ods] = client
        return client


def _receiver_reference(response: httpx.Response) -> str | None:
    """What the receiver stored it as: the Location of a message's answer, or the first
    entry's location in a transaction-response Bundle."""
    location: Any = response.headers.get("location")
    if not location and response.is_success:
        try:
            answer = response.json()
            if isinstance(answer, dict) and answer.get("type") == "transaction-response":
                location = answer["entry"][0]["response"]["location"]
        except (ValueError, LookupError, TypeError):
            location = None  # an answer without one: delivered all the same
    return location[:256] if isinstance(location, str) and location else None


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
