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

import anyio
import httpx

from gateway.audit import log as audit_log
from gateway.configuration.endpoints import Endpoint
from gateway.configuration.models import GatewayConfig
from gateway.exchange.audit import attempt_events
from gateway.exchange.breaker import CircuitBreaker
from gateway.exchange.consent_check import refusal_at_send
from gateway.exchange.metrics import DeliveryMetrics
from gateway.exchange.outbound_auth import SmartTokens, TokenRefused, tls_context
from gateway.exchange.policy import Answer, Verdict, backoff, exhausted, judge
from gateway.logging import get_logger
from gateway.services.access_trail import Outcome
from gateway.settings import Settings
from gateway.store.database import Database
from gateway.store.outbox import DEAD, DELIVERED, STOPPED, Delivery, OutboxStore
from gateway.store.resources import ResourceStore

log = get_logger(__name__)

FHIR_JSON = "application/fhir+json"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    lease: timedelta = timedelta(seconds=60)
    batch: int = 32
    poll_interval: float = 0.2
    # The gateway as the access log names it (see gateway.api.access_log.gateway_identity).
    gateway_url: str = "http://127.0.0.1:8080"

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerSettings:
        return cls(
            lease=timedelta(seconds=settings.delivery_lease_seconds),
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
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._tokens: dict[str, SmartTokens] = {}
        self._in_flight: dict[str, int] = {}

    async def run(self, stopping: anyio.Event) -> None:
        """Deliver until `stopping` is set; an unexpected error is logged, not fatal."""
        try:
            while not stopping.is_set():
                try:
                    attempted = await self.run_once()
                except Exception:  # the loop must outlive one bad round
                    log.exception("delivery.round_failed")
                    attempted = 0
                if attempted == 0:
                    with anyio.move_on_after(self._settings.poll_interval):
                        await stopping.wait()
        finally:
            await self.aclose()

    async def run_once(self) -> int:
        """Claim what is due and deliver it; how many were attempted."""
        config = self._config()
        if not config.endpoints.pushes:
            return 0  # every receiver pulls: nothing to claim, no write lock taken
        now = self._clock()
        exclude = {
            endpoint.ods
            for endpoint in config.endpoints.endpoints
            if not self.breaker.allows(endpoint.ods, now)
            or self._in_flight.get(endpoint.ods, 0) >= endpoint.concurrency
        }
        claimed = await anyio.to_thread.run_sync(self._claim, now, exclude)
        if not claimed:
            return 0
        async with anyio.create_task_group() as group:
            for delivery in claimed:
                group.start_soon(self._deliver, config, delivery)
        return len(claimed)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _claim(self, now: datetime, exclude: set[str]) -> list[Delivery]:
        with self._database.write() as connection:
            return OutboxStore(connection).claim(
                self.worker_id, now, self._settings.lease, self._settings.batch, exclude=exclude
            )

    async def _deliver(self, config: GatewayConfig, delivery: Delivery) -> None:
        endpoint = config.endpoints.push_endpoint(delivery.destination)
        if endpoint is None:
            await self._finish(delivery, DEAD, error="the receiver no longer takes pushes")
            return
        refusal = await anyio.to_thread.run_sync(self._refused, config, delivery)
        if refusal is not None:
            await self._finish(delivery, STOPPED, error=refusal)
            log.info("delivery.stopped", delivery=delivery.id, destination=delivery.destination)
            return
        self._in_flight[endpoint.ods] = self._in_flight.get(endpoint.ods, 0) + 1
        try:
            answer, reference = await self._send(endpoint, delivery)
        finally:
            self._in_flight[endpoint.ods] -= 1
        await self._record(endpoint, delivery, answer, reference)

    def _refused(self, config: GatewayConfig, delivery: Delivery) -> str | None:
        with self._database.read() as connection:
            found = refusal_at_send(
                ResourceStore(connection), delivery, config.agreements, self._clock()
            )
        return None if found is None else found.describe()

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
            endpoint.process_message_url, content=delivery.body.encode(), headers=headers
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

    async def _record(
        self, endpoint: Endpoint, delivery: Delivery, answer: Answer, reference: str | None
    ) -> None:
        now = self._clock()
        if self._metrics is not None:
            self._metrics.attempts.labels(endpoint.ods, answer.verdict.value).inc()
        if answer.verdict is Verdict.DELIVERED:
            self.breaker.succeeded(endpoint.ods)
            await self._finish(delivery, DELIVERED, reference=reference)
            log.info("delivery.delivered", delivery=delivery.id, attempts=delivery.attempts)
            return
        if answer.verdict is Verdict.RETRY:
            self.breaker.failed(endpoint.ods, now)
        if answer.verdict is Verdict.DEAD or exhausted(
            endpoint.retry, delivery.attempts, delivery.created_at, now
        ):
            await self._finish(delivery, DEAD, error=answer.summary)
            log.warning("delivery.dead", delivery=delivery.id, error=answer.summary)
            return
        wait = backoff(endpoint.retry, delivery.attempts, answer.retry_after, self._rng)
        await anyio.to_thread.run_sync(self._retry_at, delivery, now + wait, answer.summary)
        log.info("delivery.retrying", delivery=delivery.id, error=answer.summary)

    async def _finish(
        self,
        delivery: Delivery,
        state: str,
        *,
        reference: str | None = None,
        error: str | None = None,
    ) -> None:
        def write() -> None:
            with self._database.write() as connection:
                owned = OutboxStore(connection).finish(
                    delivery.id,
                    self.worker_id,
                    state,
                    self._clock(),
                    receiver_reference=reference,
                    error=error,
                )
                if owned:
                    outcome: Outcome = 0 if state == DELIVERED else 8 if state == DEAD else 4
                    said = f"Delivery to {delivery.destination}: {state}" + (
                        f" ({error})" if error else ""
                    )
                    events = attempt_events(delivery, outcome, said, self._settings.gateway_url)
                    audit_log.append(connection, events)
            if not owned:
                log.warning("delivery.lease_lost", delivery=delivery.id)

        await anyio.to_thread.run_sync(write)

    def _retry_at(self, delivery: Delivery, when: datetime, error: str) -> None:
        with self._database.write() as connection:
            if not OutboxStore(connection).retry_at(delivery.id, self.worker_id, when, error):
                log.warning("delivery.lease_lost", delivery=delivery.id)
                return
            said = f"Delivery to {delivery.destination}: will retry ({error})"
            audit_log.append(
                connection, attempt_events(delivery, 4, said, self._settings.gateway_url)
            )

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
    location: str | None = response.headers.get("location")
    return location[:256] if location else None


async def run_workers(workers: list[DeliveryWorker], stopping: anyio.Event) -> None:
    async with anyio.create_task_group() as group:
        for worker in workers:
            group.start_soon(worker.run, stopping)
