"""The store, its WAL and shared-memory files, the keys and the process id are private to
the service's user whatever the umask: a real server started under umask 000."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx

from gateway.platform.private_paths import private_directory, private_sqlite_store
from tests.builders import service_request
from tests.servers import GATEWAY, gateway_env, running_server, served_token


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_real_server_under_umask_000_keeps_everything_it_writes_private(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    store = var / "gateway.db"
    env = {
        "GATEWAY_TOKEN_SIGNING_KEY": str(var / "keys" / "token-signing-key.pem"),
        "GATEWAY_AUDIT_SIGNING_KEY": str(var / "keys" / "audit-signing-key.pem"),
        "GATEWAY_PID_FILE": str(var / "run" / "gateway.pid"),
    }
    url = f"sqlite:///{store}"
    upgraded = subprocess.run(
        [*GATEWAY, "db", "upgrade"],
        env=gateway_env(url, **env),
        capture_output=True,
        umask=0,
        timeout=60,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    with running_server(url, umask=0, **env) as base:
        created = httpx.post(
            f"{base}/fhir/ServiceRequest",
            json=service_request(),
            headers={**served_token(base), "Content-Type": "application/fhir+json"},
        )
        assert created.status_code == 201, created.text
        # While it runs: the WAL and shared-memory files exist, made after the store.
        files = [
            store,
            var / "gateway.db-wal",
            var / "gateway.db-shm",
            var / "keys" / "token-signing-key.pem",
            var / "keys" / "audit-signing-key.pem",
            var / "run" / "gateway.pid",
        ]
        assert {path.name: oct(_mode(path)) for path in files} == {
            path.name: "0o600" for path in files
        }
        directories = [var, var / "keys", var / "run"]
        assert {str(path): oct(_mode(path)) for path in directories} == {
            str(path): "0o700" for path in directories
        }


def test_a_store_left_readable_by_an_older_start_is_made_private(tmp_path: Path) -> None:
    store = tmp_path / "gateway.db"
    for path in (store, tmp_path / "gateway.db-wal", tmp_path / "gateway.db-journal"):
        path.write_bytes(b"")
        path.chmod(0o644)
    private_sqlite_store(store)
    for path in (store, tmp_path / "gateway.db-wal", tmp_path / "gateway.db-journal"):
        assert _mode(path) == 0o600


def test_an_existing_directory_keeps_its_mode_and_new_ones_are_private(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    previous = os.umask(0)
    try:
        private_directory(tmp_path / "a" / "b")
    finally:
        os.umask(previous)
    assert _mode(tmp_path) == 0o755
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
