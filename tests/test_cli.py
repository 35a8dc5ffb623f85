"""The `gateway` command as an operator runs it: a real process, a real port."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.builders import NHS, PATIENT_NHS_NUMBER, service_request
from tests.conftest import DEMO_CONFIG
from tests.fhir_judge import assert_valid_fhir

GATEWAY = [sys.executable, "-m", "gateway.cli"]
FHIR = {"Content-Type": "application/fhir+json"}


def _env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_CONFIG_DIR": str(DEMO_CONFIG),
        **extra,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_db_upgrade_then_current_on_a_fresh_sqlite_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    behind = subprocess.run(
        [*GATEWAY, "db", "current"], env=_env(url), capture_output=True, text=True
    )
    assert behind.returncode == 1
    assert "behind" in behind.stdout

    upgraded = subprocess.run(
        [*GATEWAY, "db", "upgrade"], env=_env(url), capture_output=True, text=True
    )
    assert upgraded.returncode == 0, upgraded.stderr
    current = subprocess.run(
        [*GATEWAY, "db", "current"], env=_env(url), capture_output=True, text=True
    )
    assert current.returncode == 0
    assert "current" in current.stdout


def test_serve_refuses_an_unmigrated_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = subprocess.run(
        [*GATEWAY, "serve", "--port", str(_free_port())],
        env=_env(url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "gateway db upgrade" in result.stderr + result.stdout


def test_prod_refuses_the_demo_deployment(tmp_path: Path, database_url: str) -> None:
    result = subprocess.run(
        [*GATEWAY, "serve", "--port", str(_free_port())],
        env=_env(database_url, GATEWAY_ENV="prod"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "demo deployment" in result.stderr


@contextmanager
def _running_server(database_url: str, **env: str) -> Iterator[str]:
    """`gateway serve` as a real process on a free loopback port; yields its base URL."""
    port = _free_port()
    process = subprocess.Popen(
        [*GATEWAY, "serve", "--port", str(port)],
        env=_env(database_url, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base)
        yield base
    finally:
        process.kill()
        process.wait(timeout=30)


@pytest.fixture
def served(database_url: str) -> Iterator[str]:
    with _running_server(database_url, GATEWAY_LOG_FORMAT="json") as base:
        yield base


def test_the_real_server_stores_and_finds_a_request(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10) as http:
        created = http.post(
            "/fhir/ServiceRequest",
            json=service_request(),
            headers={"Content-Type": "application/fhir+json", "X-Request-ID": "e2e-1"},
        )
        assert created.status_code == 201
        assert created.headers["X-Request-ID"] == "e2e-1"
        assert_valid_fhir(created.json())
        found = http.get(
            "/fhir/ServiceRequest", params={"subject:identifier": f"{NHS}|{PATIENT_NHS_NUMBER}"}
        )
        assert found.status_code == 200
        assert_valid_fhir(found.json())
        ids = [entry["resource"]["id"] for entry in found.json()["entry"]]
        assert created.json()["id"] in ids


def test_clients_hanging_up_mid_request_never_wedge_the_server(tmp_path: Path) -> None:
    """Seen under load: bursts of clients that give up while their requests wait left a
    write transaction (and SQLite's write turn) open for good, and every later write hung.
    Bursts of impatient clients, then one patient request that must succeed."""
    url = f"sqlite:///{tmp_path / 'burst.db'}"
    subprocess.run([*GATEWAY, "db", "upgrade"], env=_env(url), check=True, capture_output=True)
    with _running_server(url, GATEWAY_LOG_LEVEL="warning") as base:

        async def burst() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=0.02) as impatient:
                sends = [
                    impatient.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
                    for _ in range(48)
                ]
                await asyncio.gather(*sends, return_exceptions=True)

        for _ in range(4):
            asyncio.run(burst())
        response = httpx.post(
            f"{base}/fhir/ServiceRequest", json=service_request(), headers=FHIR, timeout=15
        )
        assert response.status_code == 201


def _wait_ready(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not become ready")
