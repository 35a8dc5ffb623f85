"""GET /metrics, on both databases: the outbox's depth and oldest age, read at scrape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.exchange.deliveries import DeliveryState
from gateway.exchange.outbox import OutboxStore
from gateway.platform.database import Database
from gateway.platform.settings import Settings
from tests.exchange.support import gateway, push_config
from tests.exchange.test_outbox import delivery


def test_metrics_show_the_outbox_without_a_token_or_patient_data(
    anonymous: TestClient, database: Database
) -> None:
    queued_at = datetime.now(UTC) - timedelta(minutes=10)
    with database.write() as connection:
        store = OutboxStore(connection)
        store.enqueue(delivery("m-1", "9434765919"), queued_at)
        store.enqueue(delivery("m-2", "9434765870"), queued_at)
    response = anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'gateway_outbox_depth{destination="RZZ",state="queued"} 2.0' in text
    age_line = next(
        line for line in text.splitlines() if line.startswith("gateway_outbox_oldest_age_seconds{")
    )
    assert float(age_line.split()[-1]) >= 600
    assert "9434765919" not in text


def test_dead_letters_are_counted_in_the_depth_as_dead(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    """A delivery given up on waits for an operator: the gauge an alert watches shows
    it (it counted only pending ones, so a dead letter vanished from the metrics)."""
    config = push_config(settings.config_dir, tmp_path / "config", "http://127.0.0.1:9/fhir")
    now = datetime.now(UTC)
    with database.write() as connection:
        store = OutboxStore(connection)
        store.enqueue(delivery("dead-1"), now)
        store.enqueue(delivery("queued-1", "9434765870"), now)
        [claimed] = store.claim("w", now, timedelta(minutes=1), 1, exclude=set())
        store.finish(claimed.id, "w", DeliveryState.DEAD, now, error="gave up")
    with gateway(settings, config) as client:
        text = client.get("/metrics").text
    assert 'gateway_outbox_depth{destination="RZZ",state="dead"} 1.0' in text
    assert 'gateway_outbox_depth{destination="RZZ",state="queued"} 1.0' in text


def test_every_push_endpoint_has_a_closed_breaker_from_the_start(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    """Before any delivery has failed, the breaker gauge says closed (0) for each
    endpoint that takes pushes (it was empty until one failed)."""
    config = push_config(settings.config_dir, tmp_path / "config", "http://127.0.0.1:9/fhir")
    with gateway(settings, config) as client:
        text = client.get("/metrics").text
    assert 'gateway_delivery_breaker_state{destination="RZZ"} 0.0' in text
