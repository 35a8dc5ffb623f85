"""Sending one delivery to its endpoint: one httpx.AsyncClient per endpoint (its pool,
timeouts, client certificate), the SMART token where the endpoint wants one, the same
X-Request-ID and body on every attempt, and the answer judged (gateway.exchange.policy).

A Subscription's notification goes the same way, with the URL, method and channel
headers it was queued with: a POST with no body, or the resource PUT to
[endpoint]/[type]/[id]. Redirects are never followed (httpx's default): an endpoint
cannot send the gateway, or its token, anywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from gateway.configuration.endpoints import Endpoint
from gateway.exchange.deliveries import Delivery
from gateway.exchange.outbound_auth import SmartTokens, TokenRefused, tls_context
from gateway.exchange.policy import Answer, Verdict, judge

FHIR_JSON = "application/fhir+json"


class EndpointSender:
    def __init__(
        self, transport: httpx.AsyncBaseTransport | None, clock: Callable[[], datetime]
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._tokens: dict[str, SmartTokens] = {}

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def send(self, endpoint: Endpoint, delivery: Delivery) -> tuple[Answer, str | None]:
        client = self._client(endpoint)
        tokens = self._smart_tokens(endpoint)
        headers = {
            **channel_headers(delivery),
            "Accept": FHIR_JSON,
            "X-Request-ID": delivery.id,
            "X-Correlation-ID": delivery.correlation_id,
        }
        if delivery.body:
            headers["Content-Type"] = FHIR_JSON
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
        return answer, receiver_reference(response)

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
        return await client.request(
            delivery.method or "POST",
            delivery.url or endpoint.delivery_url,
            content=delivery.body.encode(),
            headers=headers,
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
                follow_redirects=False,
            )
            self._clients[endpoint.ods] = client
        return client


def channel_headers(delivery: Delivery) -> dict[str, str]:
    """A notification's channel headers, as its Subscription gave them (checked then:
    none names a header the gateway sets)."""
    if not delivery.headers:
        return {}
    return {str(name): str(value) for name, value in json.loads(delivery.headers)}


def receiver_reference(response: httpx.Response) -> str | None:
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
