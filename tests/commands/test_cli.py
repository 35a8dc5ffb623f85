"""The `gateway` command as an operator runs it: a real process, a real port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import selectors
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.handover.dataset_input import parse_dataset
from gateway.auth.signing_key import load_signing_key
from tests.builders import NHS, PATIENT_NHS_NUMBER, service_request
from tests.conftest import DEMO_CONFIG, REPO
from tests.deployments import production_config
from tests.fhir_judge import assert_valid_fhir
from tests.servers import (
    GATEWAY,
    _wait_ready,
    free_port,
    gateway_env,
    gateway_forked,
    running_server,
    served_token,
)

FHIR = {"Content-Type": "application/fhir+json"}


def test_db_upgrade_then_current_on_a_fresh_sqlite_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    behind = subprocess.run(
        [*GATEWAY, "db", "current"], env=gateway_env(url), capture_output=True, text=True
    )
    assert behind.returncode == 1
    assert "behind" in behind.stdout

    upgraded = subprocess.run(
        [*GATEWAY, "db", "upgrade"], env=gateway_env(url), capture_output=True, text=True
    )
    assert upgraded.returncode == 0, upgraded.stderr
    current = subprocess.run(
        [*GATEWAY, "db", "current"], env=gateway_env(url), capture_output=True, text=True
    )
    assert current.returncode == 0
    assert "current" in current.stdout


def test_serve_refuses_an_unmigrated_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = subprocess.run(
        [*GATEWAY, "serve", "--port", str(free_port())],
        env=gateway_env(url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "gateway db upgrade" in result.stderr + result.stdout


def test_prod_refuses_the_demo_deployment(tmp_path: Path, database_url: str) -> None:
    result = gateway_forked(
        database_url, "serve", "--port", str(free_port()), timeout=60, GATEWAY_ENV="prod"
    )
    assert result.returncode == 2
    assert "demo deployment" in result.stderr


def _production_config(tmp_path: Path) -> str:
    return str(production_config(tmp_path / "config"))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "GATEWAY_PUBLIC_BASE_URL"),
        ({"GATEWAY_PUBLIC_BASE_URL": "https://gateway.example.nhs.uk"}, "token-signing key"),
        (
            {
                "GATEWAY_PUBLIC_BASE_URL": "https://gateway.example.nhs.uk",
                "provision_token_key": "yes",
            },
            "audit checkpoint key",
        ),
    ],
    ids=["no-public-base-url", "no-signing-key", "no-audit-key"],
)
def test_prod_refuses_to_guess_its_url_or_make_its_own_key(
    tmp_path: Path, database_url: str, extra: dict[str, str], expected: str
) -> None:
    settings = {
        "GATEWAY_ENV": "prod",
        "GATEWAY_CONFIG_DIR": _production_config(tmp_path),
        "GATEWAY_TOKEN_SIGNING_KEY": str(tmp_path / "absent.pem"),
        "GATEWAY_AUDIT_SIGNING_KEY": str(tmp_path / "absent-audit.pem"),
    }
    extra = dict(extra)  # the parameter is shared by both databases' runs
    if extra.pop("provision_token_key", None):
        provisioned = tmp_path / "token-key.pem"
        load_signing_key(provisioned, generate_if_missing=True)
        settings["GATEWAY_TOKEN_SIGNING_KEY"] = str(provisioned)
    result = gateway_forked(
        database_url, "serve", "--port", str(free_port()), timeout=60, **settings, **extra
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert not (tmp_path / "absent.pem").exists()
    assert not (tmp_path / "absent-audit.pem").exists()


def test_the_banner_names_the_port_the_server_listens_on(tmp_path: Path) -> None:
    """Started on GATEWAY_PORT, not 8080, the banner's URLs and token commands name that
    port; its token command works from a shell that never set GATEWAY_PORT."""
    url = f"sqlite:///{tmp_path / 'banner.db'}"
    assert gateway_forked(url, "db", "upgrade").returncode == 0
    port = free_port()
    assert port != 8080
    base = f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [*GATEWAY, "serve"],
        env=gateway_env(url, GATEWAY_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as server:
        try:
            banner = _printed_banner(server)
            assert set(re.findall(r"https?://[^\s/]+", banner)) == {base}
            commands = re.findall(r"\$\(\.venv/bin/gateway (token [^)]*)\)", banner)
            assert len(commands) == 3
            _wait_ready(base, {})
            another_shell = {k: v for k, v in gateway_env(url).items() if k != "GATEWAY_PORT"}
            tokens = [_run_token_command(command, another_shell) for command in commands]
        finally:
            server.kill()
    assert all(tokens)


def _run_token_command(command: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [*GATEWAY, *shlex.split(command)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _printed_banner(server: subprocess.Popen[bytes]) -> str:
    """What the server printed up to its banner's last line (it prints it before it binds
    its port). Read from the pipe itself: a buffered reader would hold what select saw."""
    assert server.stdout is not None
    printed = b""
    deadline = time.monotonic() + 30
    with selectors.DefaultSelector() as selector:
        selector.register(server.stdout, selectors.EVENT_READ)
        while b"Stop with Ctrl-C." not in printed:
            if not selector.select(timeout=max(deadline - time.monotonic(), 0)):
                raise AssertionError(f"no banner within 30 s: {printed!r}")
            chunk = os.read(server.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the server stopped before its banner ended: {printed!r}")
            printed += chunk
    return printed.decode()


@pytest.fixture
def served(database_url: str) -> Iterator[str]:
    with running_server(database_url, GATEWAY_LOG_FORMAT="json") as base:
        yield base


def test_the_real_server_stores_and_finds_a_request(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10, headers=served_token(served)) as http:
        assert httpx.get(f"{served}/fhir/ServiceRequest").status_code == 401
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
    assert gateway_forked(url, "db", "upgrade").returncode == 0
    # Without the demo clients' rate limits, so that every impatient request gets as far
    # as waiting for the database.
    config = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, config)
    clients = config / "clients.yaml"
    clients.write_text(
        "".join(line for line in clients.read_text().splitlines(True) if "rate_limit" not in line)
    )
    unlimited = {
        "GATEWAY_CONFIG_DIR": str(config),
        "GATEWAY_RATE_LIMIT_PER_SECOND": "100000",
        "GATEWAY_RATE_LIMIT_BURST": "100000",
    }
    with running_server(url, GATEWAY_LOG_LEVEL="warning", **unlimited) as base:
        token = served_token(base)

        async def burst() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=0.02, headers=token) as impatient:
                sends = [
                    impatient.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
                    for _ in range(48)
                ]
                await asyncio.gather(*sends, return_exceptions=True)

        for _ in range(4):
            asyncio.run(burst())
        response = httpx.post(
            f"{base}/fhir/ServiceRequest",
            json=service_request(),
            headers=FHIR | token,
            timeout=15,
        )
        assert response.status_code == 201


def test_the_real_server_takes_the_example_handover_as_the_readme_shows(served: str) -> None:
    fresh = subprocess.run(
        [sys.executable, str(REPO / "examples" / "fresh.py"), "handover"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    json_body = {"Content-Type": "application/json"}
    with httpx.Client(base_url=served, timeout=10, headers=served_token(served)) as http:
        created = http.post("/api/handovers", content=fresh, headers=json_body)
        assert created.status_code == 201, created.text
        assert http.post("/api/handovers", content=fresh, headers=json_body).status_code == 409
    trust = served_token(served, "demo-trust-crisis")
    with httpx.Client(base_url=served, timeout=10, headers=trust) as http:
        served_back = http.get(f"/api/handovers/{created.json()['id']}")
        assert served_back.status_code == 200
        assert parse_dataset(served_back.json()["dataset"]) == parse_dataset(json.loads(fresh))
