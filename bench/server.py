"""The real server as a subprocess: `gateway db upgrade`, then `gateway serve`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO / "config" / "demo"
GATEWAY = Path(sys.executable).parent / "gateway"
READY_TIMEOUT_S = 60.0


def server_env(database_url: str, port: int = 8080) -> dict[str, str]:
    return os.environ | {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_CONFIG_DIR": str(DEMO_CONFIG),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_LOG_LEVEL": "warning",
    }


def upgrade(database_url: str) -> None:
    subprocess.run(
        [str(GATEWAY), "db", "upgrade"],
        env=server_env(database_url),
        check=True,
        capture_output=True,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(database_url: str, log_path: Path, workers: int = 1) -> Iterator[str]:
    """Serve the store on a free local port until the block ends; yields the base URL.

    With workers > 1 uvicorn runs a supervisor and that many worker processes sharing the
    port. They start together, and /readyz answers only once one has finished starting;
    the create measurement's warm-up covers any lag of the others.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(GATEWAY), "serve", "--port", str(port), "--workers", str(workers)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=server_env(database_url, port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(base, process, log_path)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
