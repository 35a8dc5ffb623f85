"""A witness that is down never holds up a request: a real `gateway serve` whose HTTP
witness refuses connections answers as usual, and reports the witness on /metrics."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace

import anyio
import httpx
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from gateway.access_log.sequencer import Sequencer, SequencingPolicy
from gateway.access_log.witness_sender import WitnessSender
from gateway.access_log.witnessing_task import WitnessMetrics, witness_once
from gateway.configuration.audit_log import HttpWitness
from gateway.platform.database import Database
from gateway.platform.transactions import TransactionGate
from tests.access_log.events import append, key
from tests.access_log.witnessing import deployment, wait_for
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


def test_a_failing_witness_is_one_log_line_and_a_metric(database: Database) -> None:
    """Each round that cannot bring a witness up to date says so, naming the witness,
    the sizes and why: never the witness's answer, never an event."""
    sequencer = Sequencer(key("mh-gateway/demo/audit"), SequencingPolicy())
    with database.write() as connection:
        append(connection, 3)
        sequencer.run(connection, checkpoint_now=True)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    sender = WitnessSender(
        (HttpWitness("trust", "https://w.example/audit/witness", "t"),),
        transport=httpx.MockTransport(down),
    )
    registry = CollectorRegistry()

    async def one_round() -> None:
        runtime = SimpleNamespace(gate=TransactionGate(database))
        await witness_once(runtime, sender, WitnessMetrics(registry))  # type: ignore[arg-type]

    with capture_logs() as lines:
        anyio.run(one_round)
    assert lines == [
        {
            "event": "audit.witness_failed",
            "log_level": "warning",
            "witness": "trust",
            "tree_size": 3,
            "held_size": None,
            "reason": "ConnectError",
        }
    ]
    assert (
        registry.get_sample_value("gateway_audit_witness_failures_total", {"witness": "trust"}) == 1
    )
    assert registry.get_sample_value("gateway_audit_witness_behind", {"witness": "trust"}) == 3
