"""The processes a measurement runs: the receiver, and `gateway worker` processes with
a configuration whose RZZ endpoint pushes to it; and the CPU each of them spent.

The configuration is a copy of config/demo (the demo agreement between AZZ and RZZ
included) with an endpoints.yaml of its own: RZZ, mode push, base_url the receiver,
concurrency 4 (the default), the default retry policy. Workers run as operators run
them, `python -m gateway.commands.cli worker --workers N`, with GATEWAY_DATABASE_URL,
GATEWAY_CONFIG_DIR, the token and audit keys in the run's temporary directory,
GATEWAY_ENV=dev (a demo configuration) and JSON logs at the default level, info, to a
file: one `delivery.delivered` line per delivery, as in production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.cpu import machine_busy, process_cpu
from bench.server import REPO, free_port, stop

DEMO_CONFIG = REPO / "config" / "demo"
CONCURRENCY = 4  # Endpoint.concurrency's default


def endpoints_yaml(base_url: str) -> str:
    return (
        "endpoints:\n"
        "  - ods: RZZ\n"
        "    mode: push\n"
        f"    base_url: {base_url}\n"
        f"    concurrency: {CONCURRENCY}\n"
    )


def push_config(directory: Path, base_url: str) -> Path:
    """A copy of config/demo in `directory`/config whose RZZ endpoint pushes to
    `base_url`."""
    target = directory / "config"
    shutil.copytree(DEMO_CONFIG, target)
    (target / "endpoints.yaml").write_text(endpoints_yaml(base_url))
    return target


class ReceiverProcess:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.fhir = f"{self.base}/fhir"
        self._client = httpx.Client(base_url=self.base, timeout=30)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stats(self) -> dict[str, int]:
        answer = self._client.get("/stats")
        answer.raise_for_status()
        return dict(answer.json())

    def ids(self) -> list[str]:
        return list(self.get("/ids"))

    def get(self, path: str) -> Any:
        """What the receiver answers to `GET path`, as JSON."""
        answer = self._client.get(path)
        answer.raise_for_status()
        return answer.json()

    def reset(self) -> None:
        self._client.post("/reset").raise_for_status()

    def close(self) -> None:
        self._client.close()


@contextmanager
def running_receiver(
    log_path: Path, module: str = "bench.outbox.receiver"
) -> Iterator[ReceiverProcess]:
    """The receiver (`python -m <module> --port <free port>`) until the block ends."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        receiver = ReceiverProcess(process, port)
    except BaseException:
        stop(process)
        raise
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the receiver exited: {log_path.read_text()[-2000:]}")
            try:
                receiver.stats()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.05)
        yield receiver
    finally:
        receiver.close()
        stop(process)


def worker_env(database_url: str, config_dir: Path, keys: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GATEWAY_ENV": "dev",
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_CONFIG_DIR": str(config_dir),
        "GATEWAY_TOKEN_SIGNING_KEY": str(keys / "token-signing-key.pem"),
        "GATEWAY_AUDIT_SIGNING_KEY": str(keys / "audit-signing-key.pem"),
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_LOG_LEVEL": "info",
    }


@dataclass
class WorkerLayout:
    """`processes` worker processes of `workers` DeliveryWorkers each."""

    processes: int
    workers: int

    @property
    def label(self) -> str:
        return f"{self.processes} x `gateway worker --workers {self.workers}`"

    @property
    def total(self) -> int:
        return self.processes * self.workers


@contextmanager
def running_workers(
    layout: WorkerLayout,
    env: dict[str, str],
    log_dir: Path,
    name: str,
    *,
    command: Sequence[str] | None = None,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start the worker processes; yield once each has logged `worker.started` (and so
    is polling the outbox). `command` replaces `gateway worker` (bench/outbox/variant.py)."""
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for index in range(layout.processes):
            log_path = log_dir / f"{name}-worker-{index}.log"
            logs.append(log_path)
            argv = [
                *(command or [sys.executable, "-m", "gateway.commands.cli", "worker"]),
                "--workers",
                str(layout.workers),
            ]
            with log_path.open("wb") as log:
                processes.append(
                    subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
                )
        deadline = time.monotonic() + 60
        for process, log_path in zip(processes, logs, strict=True):
            while b"worker.started" not in log_path.read_bytes():
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited: {log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"a worker did not start: {log_path}")
                time.sleep(0.05)
        yield processes
    finally:
        for process in processes:
            stop(process)


@dataclass
class CpuSample:
    workers: float
    receiver: float
    bench: float  # this process: the poller (and, in the latency run, the enqueuer)
    machine: float

    @classmethod
    def take(cls, workers: Sequence[int], receiver: int) -> CpuSample:
        return cls(
            sum(process_cpu(pid) for pid in workers),
            process_cpu(receiver),
            time.process_time(),
            machine_busy(),
        )

    def since(self, earlier: CpuSample) -> CpuSample:
        return CpuSample(
            self.workers - earlier.workers,
            self.receiver - earlier.receiver,
            self.bench - earlier.bench,
            self.machine - earlier.machine,
        )

    @property
    def rest(self) -> float:
        """Busy time of everything else: PostgreSQL's backends, mostly."""
        return max(self.machine - self.workers - self.receiver - self.bench, 0.0)
