"""`gateway worker` as a real process: its own metrics served on --metrics-port (the
outbox read from the database at each scrape, its workers' attempts and breakers), and
a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from gateway.exchange.outbox import OutboxStore
from gateway.platform.database import Database
from tests import forked
from tests.configuration.test_published_keys import register_the_demo_key
from tests.deployments import production_env
from tests.exchange.support import push_config
from tests.exchange.test_outbox import delivery
from tests.servers import GATEWAY, free_port, gateway_env


def test_a_worker_process_serves_its_metrics_and_stops_on_sigterm(
    database: Database, database_url: str, config_dir: Path, tmp_path: Path
) -> None:
    # A Trust that takes pushes at an address nothing answers: the delivery stays pending.
    config = push_config(config_dir, tmp_path / "config", f"http://127.0.0.1:{free_port()}/fhir")
    # The worker is a real process on the wall clock, so the delivery is enqueued on that
    # clock too: a fixed date would age past max_age_hours and be dead-lettered at once.
    with database.write() as connection:
        OutboxStore(connection).enqueue(delivery("metrics-1"), datetime.now(UTC))
    port = free_port()
    process = subprocess.Popen(
        [*GATEWAY, "worker", "--metrics-port", str(port)],
        env=gateway_env(database_url, GATEWAY_CONFIG_DIR=str(config)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        text = _scrape(f"http://127.0.0.1:{port}/metrics", until="gateway_delivery_attempts_total{")
        assert 'gateway_outbox_depth{destination="RZZ",state="retrying"} 1.0' in text or (
            'gateway_outbox_depth{destination="RZZ",state="in-flight"} 1.0' in text
        )
        assert 'gateway_delivery_attempts_total{destination="RZZ",verdict="retry"}' in text
        assert "gateway_outbox_oldest_age_seconds" in text
        assert "gateway_delivery_breaker_state" in text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def _scrape(url: str, *, until: str) -> str:
    """The metrics text once it holds `until` (the worker has made an attempt)."""
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(url, timeout=2).text
        except httpx.TransportError:
            text = ""
        if until in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"no {until} within 30 s")


def test_a_prod_worker_refuses_a_reload_that_registers_a_published_key(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    env = production_env(tmp_path)
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = forked.start(
            ["worker"],
            env=gateway_env(database_url, **env),
            stdout=output.fileno(),
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_line(log, "worker.started")
        register_the_demo_key(Path(env["GATEWAY_CONFIG_DIR"]), "demo-trust-crisis")
        process.send_signal(signal.SIGHUP)
        refused = _wait_for_line(log, "worker.config_reload_refused")
        assert "client demo-trust-crisis" in refused
        assert "worker.config_reloaded" not in log.read_text()
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def _wait_for_line(log: Path, event: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [line for line in log.read_text().splitlines() if event in line]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {event} within 30 s")
