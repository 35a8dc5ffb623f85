"""The store, its WAL and shared-memory files, the keys and the process id are private to
the service's user whatever the umask: a real server started under umask 000."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from gateway.platform.database import Database
from gateway.platform.private_paths import private_directory, private_sqlite_store
from tests import forked
from tests.builders import service_request
from tests.servers import gateway_env, running_server, served_token


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
    upgraded = forked.run(["db", "upgrade"], env=gateway_env(url, **env), umask=0, timeout=60)
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


def test_opening_a_store_never_drops_the_locks_this_process_holds_on_it(
    tmp_path: Path,
) -> None:
    """A Database made for a store this process already holds open (a reload, a command
    beside a server, a loader beside the gateway in one process) must not release that
    connection's SQLite locks: closing any descriptor of the file would, POSIX record
    locks being per process. Shown with a rollback-journal connection, whose locks are
    on the store file itself."""
    store = tmp_path / "gateway.db"
    holder = sqlite3.connect(store, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x INTEGER)")
        holder.execute("BEGIN IMMEDIATE")  # holds the write lock on the file
        holder.execute("INSERT INTO t VALUES (1)")
        Database(f"sqlite:///{store}").dispose()
        other = subprocess.run(
            [sys.executable, "-c", _WRITE_WITHOUT_WAITING, str(store)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert other.stdout.strip() == "locked", other.stdout + other.stderr
        holder.execute("COMMIT")
    finally:
        holder.close()


# Another process's write, refused at once if any other connection holds the lock.
_WRITE_WITHOUT_WAITING = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO t VALUES (2)")
    connection.execute("COMMIT")
    print("written")
except sqlite3.OperationalError:
    print("locked")
"""
