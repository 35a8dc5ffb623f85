"""GET /metrics, on both databases: the outbox's depth and oldest age, read at scrape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from gateway.store.database import Database
from gateway.store.outbox import OutboxStore
from tests.store.test_outbox import delivery


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
