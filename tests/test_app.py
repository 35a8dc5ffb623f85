"""What a real `gateway serve` exposes on its API port: in prod neither the metrics nor the
OpenAPI document (metrics have a listener of their own); in dev both, for convenience."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from gateway.exchange.outbox import OutboxStore
from gateway.platform.database import Database
from tests.deployments import production_env
from tests.exchange.test_outbox import delivery
from tests.servers import free_port, running_server

UNDOCUMENTED = ("/openapi.json", "/docs", "/redoc")


def test_prod_keeps_metrics_and_the_openapi_document_off_the_api_port(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    with database.write() as connection:
        OutboxStore(connection).enqueue(delivery("scraped-1"), datetime.now(UTC))
    metrics_port = free_port()
    env = production_env(
        tmp_path, GATEWAY_TRUSTED_PROXIES="127.0.0.1", GATEWAY_METRICS_PORT=str(metrics_port)
    )
    with running_server(database_url, **env) as base:
        for path in ("/metrics", *UNDOCUMENTED):
            assert httpx.get(f"{base}{path}").status_code == 404, path
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200
        assert 'gateway_outbox_depth{destination="RZZ"' in scraped.text


def test_prod_serves_the_openapi_document_when_configured_to(
    tmp_path: Path, database_url: str
) -> None:
    env = production_env(tmp_path, GATEWAY_TRUSTED_PROXIES="127.0.0.1", GATEWAY_OPENAPI="true")
    with running_server(database_url, **env) as base:
        document = httpx.get(f"{base}/openapi.json")
        assert document.status_code == 200
        assert "/fhir/metadata" in document.json()["paths"]
        assert httpx.get(f"{base}/metrics").status_code == 404


def test_dev_serves_metrics_and_the_openapi_document_on_the_api_port_too(
    database_url: str,
) -> None:
    metrics_port = free_port()
    with running_server(database_url, GATEWAY_METRICS_PORT=str(metrics_port)) as base:
        assert httpx.get(f"{base}/openapi.json").status_code == 200
        assert "gateway_outbox_depth" in httpx.get(f"{base}/metrics").text
        assert "gateway_outbox_depth" in httpx.get(f"http://127.0.0.1:{metrics_port}/").text
