"""`gateway config check|reload`, and a reload of the real server's configuration without
a restart: the agreements in force change what a Trust may read; a bad file is refused
and the running configuration kept; every attempt is in the access log."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import select

from gateway.configuration.cluster import fingerprint
from gateway.platform.database import Database
from gateway.platform.schema import audit_events, configuration_reloads
from tests.builders import service_request
from tests.conftest import DEMO_CONFIG
from tests.servers import GATEWAY, gateway_env, gateway_forked, running_server

AGREEMENT = "agreements/dsa-north-crisis-pathway.yaml"


def _gateway(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command as a process started as an operator starts it."""
    return subprocess.run(
        [*GATEWAY, *args],
        env=gateway_env("sqlite:///unused.db", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _forked(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command as a process of its own forked from a warm parent (tests/forked.py)."""
    return gateway_forked("sqlite:///unused.db", *args, timeout=60, **env)


def _config(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, directory)
    return directory


def test_check_lists_what_it_loaded() -> None:
    result = _gateway("config", "check")
    assert result.returncode == 0, result.stderr
    assert "agreements: DSA-DEMO-NORTH-001 v1" in result.stdout


def test_check_names_the_file_and_field_of_a_bad_agreement(tmp_path: Path) -> None:
    config = _config(tmp_path)
    path = config / AGREEMENT
    path.write_text(path.read_text().replace("purposes: [direct-care", "purposes: [holidays"))
    result = _forked("config", "check", GATEWAY_CONFIG_DIR=str(config))
    assert result.returncode == 2
    assert "dsa-north-crisis-pathway.yaml" in result.stderr
    assert "purposes.0" in result.stderr


def test_check_warns_of_an_agreement_about_to_expire(tmp_path: Path) -> None:
    config = _config(tmp_path)
    path = config / AGREEMENT
    soon = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 10 * 86400))
    path.write_text(path.read_text().replace("valid_to: 2028-12-31", f"valid_to: {soon}"))
    result = _forked("config", "check", GATEWAY_CONFIG_DIR=str(config))
    assert result.returncode == 0, result.stderr
    assert f"warning: agreement DSA-DEMO-NORTH-001 v1 expires on {soon}" in result.stdout


def test_reload_asks_every_process_on_the_store(tmp_path: Path, database: Database) -> None:
    config = _config(tmp_path)
    database_url = database.url.render_as_string(hide_password=False)
    said = []
    for _ in range(2):
        result = gateway_forked(
            database_url, "config", "reload", timeout=60, GATEWAY_CONFIG_DIR=str(config)
        )
        assert result.returncode == 0, result.stderr
        said.append(result.stdout)
    with database.read() as connection:
        requests = connection.execute(
            select(configuration_reloads).order_by(configuration_reloads.c.seq)
        ).all()
    assert len(requests) == 2
    assert [f"(request {r.seq})" in out for r, out in zip(requests, said, strict=True)] == [
        True,
        True,
    ]
    assert {r.fingerprint for r in requests} == {fingerprint(config)}


def _token(base: str, client_id: str) -> dict[str, str]:
    result = _gateway("token", "--client", client_id, "--url", base)
    assert result.returncode == 0, result.stderr
    return {"Authorization": f"Bearer {result.stdout.strip()}"}


def _eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("the condition did not hold within 15 s")


def _configuration_loads(database: Database) -> list[int]:
    """The outcome of every configuration load the access log holds, oldest first."""
    with database.read() as connection:
        rows = connection.execute(
            select(audit_events.c.outcome)
            .where(audit_events.c.subtype == "configuration-load")
            .order_by(audit_events.c.seq)
        )
        return [int(row.outcome) for row in rows]


def test_a_reload_changes_the_agreements_in_force_without_a_restart(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    config = _config(tmp_path)
    pid_file = tmp_path / "gateway.pid"
    env = {"GATEWAY_CONFIG_DIR": str(config), "GATEWAY_PID_FILE": str(pid_file)}
    with running_server(database_url, **env) as base:
        provider, trust = _token(base, "demo-provider-epr"), _token(base, "demo-trust-crisis")
        created = httpx.post(
            f"{base}/fhir/ServiceRequest",
            json=service_request(),
            headers={**provider, "Content-Type": "application/fhir+json"},
        )
        assert created.status_code == 201, created.text
        path = f"{base}/fhir/ServiceRequest/{created.json()['id']}"

        def trust_reads() -> int:
            return httpx.get(path, headers=trust).status_code

        assert trust_reads() == 200
        assert _configuration_loads(database) == [0]

        # A broken file, signalled directly: refused, the running configuration kept.
        (config / "agreements" / "broken.yaml").write_text("id: [not, an, id]\n")
        os.kill(int(pid_file.read_text()), signal.SIGHUP)
        _eventually(lambda: _configuration_loads(database) == [0, 4])
        assert trust_reads() == 200

        # The CLI checks before it signals: nothing is sent while a file is bad.
        assert gateway_forked(database_url, "config", "reload", **env).returncode == 2
        (config / "agreements" / "broken.yaml").unlink()

        # The agreement withdrawn: once reloaded, the Trust may no longer read.
        (config / AGREEMENT).unlink()
        reload = gateway_forked(database_url, "config", "reload", **env)
        assert reload.returncode == 0, reload.stderr
        _eventually(lambda: trust_reads() == 403)
        assert _configuration_loads(database) == [0, 4, 0]
        refused = httpx.get(path, headers=trust)
        assert "agreement:none" in refused.json()["issue"][0]["diagnostics"]
