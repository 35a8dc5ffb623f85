"""A pushed handover's later updates reach its receiver after the create, in order, under
the push's X-Correlation-ID with a request id of their own: the real DeliveryWorker
against a receiver mocked at the HTTP boundary (respx), on both databases."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from gateway.exchange.deliveries import DeliveryState
from gateway.platform.database import Database
from gateway.platform.settings import Settings
from tests.exchange.support import Clock, deliveries, gateway, handover, push_config
from tests.exchange.test_worker import ENDPOINT, TRUST, run_once, worker

FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def config(config_dir: Path, tmp_path: Path) -> Path:
    return push_config(config_dir, tmp_path / "config", TRUST)


def _push(client: TestClient, external_id: str) -> str:
    response = client.post(
        "/api/handovers",
        content=json.dumps(handover(external_id)),
        headers={"Content-Type": "application/json", "X-Correlation-ID": "push-corr-7"},
    )
    assert response.status_code == 201, response.text
    service_request_id: str = response.json()["id"]
    return service_request_id


def _revoke(client: TestClient, service_request_id: str) -> None:
    path = f"/fhir/ServiceRequest/{service_request_id}"
    current = client.get(path).json()
    response = client.put(
        path,
        content=json.dumps({**current, "status": "revoked"}),
        headers={**FHIR_JSON, "X-Correlation-ID": "revoke-corr-8"},
    )
    assert response.status_code == 200, response.text


def _sent(route: respx.Route) -> list[tuple[str, str, dict[str, Any]]]:
    """Each request the receiver got: its X-Request-ID, X-Correlation-ID and message."""
    return [
        (
            call.request.headers["X-Request-ID"],
            call.request.headers["X-Correlation-ID"],
            json.loads(call.request.content),
        )
        for call in route.calls
    ]


def _reason(message: dict[str, Any]) -> str | None:
    header = message["entry"][0]["resource"]
    reason: str | None = header.get("reason", {}).get("coding", [{}])[0].get("code")
    return reason


@respx.mock
def test_the_create_then_the_update_arrive_in_order_under_one_correlation_id(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(201))
    with gateway(settings, config) as client:
        service_request_id = _push(client, "ORD-1")
        _revoke(client, service_request_id)
    create, update = deliveries(database)
    clock = Clock()
    delivery_worker = worker(database, config, clock)
    # The update is due but waits while its create is pending: one per round.
    assert run_once(delivery_worker) == 1
    assert run_once(delivery_worker) == 1
    assert run_once(delivery_worker) == 0
    assert [d.state for d in deliveries(database)] == [
        DeliveryState.DELIVERED,
        DeliveryState.DELIVERED,
    ]

    (first_id, first_correlation, first), (second_id, second_correlation, second) = _sent(route)
    assert (first_id, second_id) == (create.id, update.id)
    assert first_id != second_id
    assert first_correlation == second_correlation == "push-corr-7"
    assert (_reason(first), _reason(second)) == ("new", "update")
    assert first["entry"][1]["resource"]["status"] == "active"
    revoked = second["entry"][1]["resource"]
    assert (revoked["id"], revoked["status"]) == (service_request_id, "revoked")


@respx.mock
def test_an_update_queued_while_its_create_is_retrying_is_sent_after_it(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "120"}),
            httpx.Response(201),
            httpx.Response(201),
        ]
    )
    clock = Clock()
    delivery_worker = worker(database, config, clock)
    with gateway(settings, config) as client:
        service_request_id = _push(client, "ORD-2")
        assert run_once(delivery_worker) == 1
        (create,) = deliveries(database)
        assert create.state == DeliveryState.RETRYING
        _revoke(client, service_request_id)
    update = deliveries(database)[1]
    assert update.kind == "update"
    # The update is due now, the create not yet: the update still waits.
    assert run_once(delivery_worker) == 0
    clock.advance(timedelta(seconds=121))
    assert run_once(delivery_worker) == 1  # the create, and only the create
    assert [d.state for d in deliveries(database)] == [DeliveryState.DELIVERED, "queued"]
    assert run_once(delivery_worker) == 1
    assert [d.state for d in deliveries(database)] == [
        DeliveryState.DELIVERED,
        DeliveryState.DELIVERED,
    ]

    sent = _sent(route)
    assert [request_id for request_id, _, _ in sent] == [create.id, create.id, update.id]
    assert {correlation for _, correlation, _ in sent} == {"push-corr-7"}
    assert sent[0][2] == sent[1][2]  # a retry repeats the create's body
    assert _reason(sent[2][2]) == "update"
