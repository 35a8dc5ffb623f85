"""A witness that is down never holds up a request: a real `gateway serve` whose HTTP
witness refuses connections answers as usual, and reports the witness on /metrics."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from gateway.store.database import Database
from tests.audit.witnessing import deployment, wait_for
from tests.servers import free_port, running_server


def _failures(base: str) -> float | None:
    text = httpx.get(f"{base}/metrics").text
    found = re.search(r'gateway_audit_witness_failures_total\{witness="trust"\} (\S+)', text)
    return float(found.group(1)) if found and float(found.group(1)) >= 2 else None


def test_a_witness_that_is_down_is_reported_and_delays_nothing(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("s3cret")
    nobody = f"http://127.0.0.1:{free_port()}/audit/witness"
    config = deployment(
        tmp_path / "config",
        witnesses=[{"name": "trust", "url": nobody, "token_file": str(tmp_path / "token")}],
    )
    with (
        running_server(
            database_url,
            GATEWAY_CONFIG_DIR=str(config),
            GATEWAY_AUDIT_CHECKPOINT_EVERY_SECONDS="0.2",
            GATEWAY_AUDIT_WITNESS_INTERVAL_SECONDS="0.2",
        ) as base,
        httpx.Client(base_url=base, timeout=5) as http,
    ):
        for _ in range(10):
            started = time.monotonic()
            assert http.get("/fhir/ServiceRequest").status_code == 401
            assert time.monotonic() - started < 2
        wait_for(lambda: _failures(base), "the witness's failures on /metrics")
        metrics = http.get("/metrics").text
        behind = re.search(r'gateway_audit_witness_behind\{witness="trust"\} (\S+)', metrics)
        assert behind is not None
        assert float(behind.group(1)) > 0
        assert http.get("/readyz").status_code == 200
