"""Notifications on their way, with the receiver mocked at the HTTP boundary (respx) and
a delivery worker driven by the test, on both databases: an empty POST or the resource
PUT under [endpoint]/[type]/[id], each with its own X-Request-ID (the same on every
retry), the channel's headers and the endpoint's own authentication; stopped when
consent is withdrawn or the Subscription turned off between queueing and sending; and a
Subscription that keeps failing set to error, shown in /metrics."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import generate_latest
from sqlalchemy import select

from gateway.exchange.deliveries import DeliveryState
from gateway.exchange.metrics import DeliveryMetrics
from gateway.exchange.worker import WorkerSettings
from gateway.platform.database import Database
from gateway.platform.schema import audit_events
from gateway.platform.settings import Settings
from tests.access_log.reading import event_clients, event_references
from tests.exchange.support import Clock
from tests.exchange.test_worker import dissent_of, run_once, worker
from tests.subscriptions.support import (
    FHIR_JSON,
    HOOKS,
    TRUST_BASE,
    escalate,
    gateway,
    notifications,
    notifying_config,
    respond,
    subscribe,
    subscription,
    trust,
)

FULL = "application/fhir+json"
TOKEN_URL = "https://auth.rzz.test/oauth2/token"


@pytest.fixture
def config(config_dir: Path, tmp_path: Path) -> Path:
    return notifying_config(config_dir, tmp_path / "config", base_seconds=1, max_attempts=50)


def _subscribed(settings: Settings, config: Path, **options: Any) -> tuple[str, str]:
    """A Subscription of the Trust's, and an escalation it matches: their ids."""
    with gateway(settings, config) as client:
        created = subscribe(client, subscription(**options), trust(client))
        assert created.status_code == 201, created.text
        escalation = escalate(client)
    return created.json()["id"], escalation["resources"]["Communication"]


@respx.mock
def test_an_empty_notification_is_posted_with_its_request_id_and_headers(
    settings: Settings, database: Database, config: Path
) -> None:
    hook = respx.post(HOOKS).mock(return_value=httpx.Response(200))
    subscription_id, reference = _subscribed(settings, config, headers=("X-Hook-Key: k-1",))
    assert run_once(worker(database, config, Clock())) == 1
    (delivered,) = notifications(database)
    assert delivered.state == DeliveryState.DELIVERED
    request = hook.calls.last.request
    assert request.method == "POST"
    assert request.content == b""
    assert "content-type" not in request.headers
    assert request.headers["X-Request-ID"] == delivered.id
    assert request.headers["X-Correlation-ID"] == subscription_id
    assert request.headers["X-Hook-Key"] == "k-1"
    # The attempt is in the person's access history: the version, for the Trust's client.
    with database.read() as connection:
        (event,) = [
            json.loads(content)
            for content in connection.execute(
                select(audit_events.c.content).where(
                    audit_events.c.subtype == "delivery-attempt",
                    audit_events.c.patient == "9434765919",
                )
            ).scalars()
        ]
    assert event_references(event)[0].endswith(f"{reference}/_history/1")
    assert "demo-trust-crisis" in event_clients(event)
    assert "Delivery to RZZ: delivered" in event["outcomeDesc"]


@respx.mock
def test_a_notification_carrying_the_resource_puts_it_under_its_type_and_id_and_retries_the_same(
    settings: Settings, database: Database, config: Path
) -> None:
    subscription_id, reference = _subscribed(settings, config, payload=FULL)
    put = respx.put(f"{HOOKS}/{reference}").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "0"}), httpx.Response(201)]
    )
    clock = Clock()
    delivery_worker = worker(database, config, clock)
    run_once(delivery_worker)
    clock.advance(timedelta(seconds=5))
    run_once(delivery_worker)
    (delivered,) = notifications(database)
    assert (delivered.state, delivered.attempts) == (DeliveryState.DELIVERED, 2)
    first, second = (call.request for call in put.calls)
    assert first.headers["X-Request-ID"] == second.headers["X-Request-ID"] == delivered.id
    assert first.content == second.content
    sent = json.loads(second.content)
    assert f"Communication/{sent['id']}" == reference
    assert sent["meta"]["versionId"] == "1"
    assert second.headers["Content-Type"] == FULL
    assert subscription_id


@respx.mock
def test_consent_withdrawn_between_queueing_and_sending_stops_the_notification(
    settings: Settings, database: Database, config: Path
) -> None:
    hook = respx.post(HOOKS).mock(return_value=httpx.Response(200))
    _subscribed(settings, config)
    (queued,) = notifications(database)
    with gateway(settings, config) as client:  # the provider records the dissent
        recorded = client.post(
            "/fhir/Consent", content=json.dumps(dissent_of("9434765919")), headers=FHIR_JSON
        )
        assert recorded.status_code == 201, recorded.text
    run_once(worker(database, config, Clock()))
    (stopped,) = notifications(database)
    assert (stopped.id, stopped.state) == (queued.id, DeliveryState.STOPPED)
    assert "consent:dissent" in (stopped.last_error or "")
    assert not hook.called


@respx.mock
def test_a_subscription_turned_off_before_sending_is_not_sent(
    settings: Settings, database: Database, config: Path
) -> None:
    hook = respx.post(HOOKS).mock(return_value=httpx.Response(200))
    subscription_id, _ = _subscribed(settings, config)
    with gateway(settings, config) as client:
        headers = trust(client)
        current = client.get(f"/fhir/Subscription/{subscription_id}", headers=headers).json()
        # Off, then asked for again: the notification queued before is stopped for good.
        for status in ("off", "requested"):
            current = client.put(
                f"/fhir/Subscription/{subscription_id}",
                content=json.dumps({**current, "status": status}),
                headers={**FHIR_JSON, **headers},
            ).json()
    run_once(worker(database, config, Clock()))
    (stopped,) = notifications(database)
    assert stopped.state == DeliveryState.STOPPED
    assert stopped.last_error == "stopped: the subscription is off"
    assert not hook.called


@respx.mock
def test_a_subscription_whose_notifications_keep_failing_is_set_to_error(
    settings: Settings, database: Database, config: Path
) -> None:
    hook = respx.post(HOOKS).mock(return_value=httpx.Response(503))
    with gateway(settings, config) as client:
        headers = trust(client)
        subscription_id = subscribe(client, subscription(), headers).json()["id"]
        first = escalate(client, "EPR-FAIL-1")
        escalate(client, "EPR-FAIL-2")
    clock = Clock()
    metrics = DeliveryMetrics()
    delivery_worker = worker(
        database,
        config,
        clock,
        metrics=metrics,
        settings=WorkerSettings(subscription_failure_limit=3),
    )
    for _ in range(3):
        run_once(delivery_worker)
        clock.advance(timedelta(minutes=5))
    assert hook.call_count == 3
    # The second escalation's waited behind the first's (one person, one organisation);
    # both are stopped when their Subscription goes to error, the failing one too.
    assert [(n.state, n.last_error) for n in notifications(database)] == [
        (DeliveryState.STOPPED, "stopped: the subscription is in error")
    ] * 2
    counted = generate_latest(metrics.registry).decode()
    assert 'gateway_subscription_notifications_total{outcome="retrying"} 3.0' in counted
    with gateway(settings, config) as client:
        headers = trust(client)
        shown = client.get(f"/fhir/Subscription/{subscription_id}", headers=headers).json()
        scraped = client.get("/metrics").text
        # Nothing more is queued for it.
        respond(client, first["id"], headers)
    assert shown["status"] == "error"
    assert shown["meta"]["versionId"] == "2"
    assert shown["error"] == "3 notifications in a row failed; the last: HTTP 503."
    assert "9434765919" not in shown["error"]
    assert 'gateway_subscriptions{status="error"} 1.0' in scraped
    assert 'gateway_subscriptions{status="active"} 0.0' in scraped
    assert len(notifications(database)) == 2
    # Asked for again, it is notified again.
    with gateway(settings, config) as client:
        headers = trust(client)
        again = client.put(
            f"/fhir/Subscription/{subscription_id}",
            content=json.dumps({**shown, "status": "requested"}),
            headers={**FHIR_JSON, **headers},
        )
        assert again.json()["status"] == "active"
        assert "error" not in again.json()
        escalate(client, "EPR-FAIL-3")
    assert len(notifications(database)) == 3


@respx.mock
def test_a_notification_refused_outright_sets_its_subscription_to_error_at_once(
    settings: Settings, database: Database, config: Path
) -> None:
    respx.post(HOOKS).mock(
        return_value=httpx.Response(
            404,
            json={
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "not-found"}],
            },
        )
    )
    subscription_id, _ = _subscribed(settings, config)
    run_once(worker(database, config, Clock()))
    (dead,) = notifications(database)
    assert dead.state == DeliveryState.DEAD
    with gateway(settings, config) as client:
        shown = client.get(f"/fhir/Subscription/{subscription_id}", headers=trust(client)).json()
    assert shown["status"] == "error"
    assert shown["error"] == "A notification was given up on: HTTP 404 (not-found)."


@respx.mock
def test_a_url_no_longer_configured_is_never_called(
    settings: Settings, database: Database, config: Path, config_dir: Path, tmp_path: Path
) -> None:
    hook = respx.post(HOOKS).mock(return_value=httpx.Response(200))
    subscription_id, _ = _subscribed(settings, config)
    # The operator moves the Trust's URL; the notification queued for the old one is
    # given up on, not sent.
    moved = notifying_config(config_dir, tmp_path / "moved", trust_base="https://new.rzz.test/fhir")
    run_once(worker(database, moved, Clock()))
    (dead,) = notifications(database)
    assert dead.state == DeliveryState.DEAD
    assert dead.last_error == "its URL is no longer under one configured for this organisation"
    assert not hook.called
    with gateway(settings, moved) as client:
        shown = client.get(f"/fhir/Subscription/{subscription_id}", headers=trust(client)).json()
    assert shown["status"] == "error"


@respx.mock
def test_notifications_use_the_endpoint_s_smart_authentication(
    settings: Settings, database: Database, config: Path
) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (config / "keys" / "rzz-client.pem").write_bytes(pem)
    endpoints = (config / "endpoints.yaml").read_text()
    (config / "endpoints.yaml").write_text(
        endpoints.replace(
            f"    base_url: {TRUST_BASE}\n",
            f"    base_url: {TRUST_BASE}\n"
            "    authentication:\n"
            "      smart:\n"
            f"        token_url: {TOKEN_URL}\n"
            "        client_id: mh-gateway\n"
            "        private_key_file: keys/rzz-client.pem\n"
            "        key_id: rzz-1\n",
        )
    )
    tokens = respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(200, json={"access_token": "t-1", "expires_in": 300})
    )
    hook = respx.post(HOOKS).mock(return_value=httpx.Response(200))
    _subscribed(settings, config)
    run_once(worker(database, config, Clock()))
    assert [n.state for n in notifications(database)] == [DeliveryState.DELIVERED]
    assert tokens.call_count == 1
    assert hook.calls.last.request.headers["Authorization"] == "Bearer t-1"
