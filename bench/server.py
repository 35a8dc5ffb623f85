"""The real server as a subprocess: `gateway db upgrade`, then `gateway serve`.

Either this checkout's code, or another revision's (the baseline, bench/baseline.py):
`python -m gateway.commands.cli` run with the same interpreter, from the code's own directory and
with that directory first on PYTHONPATH, so it imports its own `gateway` package.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.auth import BenchAuth
from bench.stores import fresh_store

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Code:
    """Which gateway code a server runs."""

    label: str
    root: Path  # the directory holding its `gateway` package
    # Put root first on PYTHONPATH (another revision); this checkout is what the venv's
    # editable install resolves to anyway.
    own_path: bool = False

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gateway.commands.cli", *args]


CURRENT = Code("this checkout", REPO)


def server_env(
    database_url: str,
    auth: BenchAuth,
    port: int = 8080,
    code: Code = CURRENT,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The server's environment; `extra` (a benchmark's own GATEWAY_ settings) last."""
    env = os.environ | auth.server_env()
    env |= {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_LOG_LEVEL": "warning",
    }
    if code.own_path:
        env["PYTHONPATH"] = str(code.root)
    return env | dict(extra or {})


def upgrade(database_url: str, auth: BenchAuth, code: Code = CURRENT) -> None:
    finished = subprocess.run(
        code.command("db", "upgrade"),
        env=server_env(database_url, auth, code=code),
        cwd=code.root,
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(
            f"`gateway db upgrade` ({code.label}) exited with {finished.returncode}:\n"
            f"{finished.stdout}{finished.stderr}"
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(
    database_url: str,
    log_path: Path,
    auth: BenchAuth,
    *,
    workers: int = 1,
    code: Code = CURRENT,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Serve the store on a free local port until the block ends; yields the base URL.
    `extra_env` adds to, or overrides, the server's environment (`server_env`).

    With workers > 1 uvicorn runs a supervisor and that many worker processes sharing the
    port. They start together, and /readyz answers only once one has finished starting;
    the create measurement's warm-up covers any lag of the others.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = code.command("serve", "--port", str(port), "--workers", str(workers))
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=server_env(database_url, auth, port, code, extra_env),
            cwd=code.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(base, process, log_path)
        yield base
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, so that it shuts down as it would in service; killed after 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True, slots=True)
class Servers:
    """How a run serves: its PostgreSQL server, its configuration, where its servers
    write their output, and whether its stores are kept."""

    postgres_url: str
    auth: BenchAuth
    log: Path
    keep: bool = False

    def store(self, database: str) -> AbstractContextManager[str]:
        """An empty store, removed afterwards (bench/stores.py)."""
        return fresh_store(database, self.postgres_url, keep=self.keep)

    @contextmanager
    def serve(self, url: str, code: Code = CURRENT) -> Iterator[str]:
        """The store migrated by `code`'s own `gateway db upgrade`, then `code`'s server
        on it; yields the base URL."""
        upgrade(url, self.auth, code)
        with running_server(url, self.log, self.auth, code=code) as base:
            yield base

    @contextmanager
    def fresh(self, database: str, code: Code = CURRENT) -> Iterator[str]:
        """`serve` on a store of its own."""
        with self.store(database) as url, self.serve(url, code) as base:
            yield base


def _wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the server exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {READY_TIMEOUT_S:.0f} s")


def check_authenticates(base: str) -> None:
    """This checkout's server: a data route without a token must answer 401."""
    status = httpx.get(f"{base}/fhir/ServiceRequest", timeout=10).status_code
    if status != 401:
        raise RuntimeError(f"GET /fhir/ServiceRequest without a token answered {status}, not 401")
