"""What the shared client rate limit (gateway.auth.shared_rate_limit) costs, against the
in-process limiter, measured in the same run on this machine's PostgreSQL.

1. Per call, one at a time (median, p99, mean in µs): the in-process
   `RateLimiter.acquire`; the shared limiter's upsert called directly
   (`acquire_blocking`); and as a request pays it, awaited from the event loop
   (`acquire`: the upsert in a worker thread). For scale, a bare `SELECT 1` round trip
   through the same pool.
2. Concurrent takers (threads with connections of their own, as processes would be): takes
   a second on one client's bucket (every taker waits on its row lock) and on a bucket
   each.
3. End to end: one `gateway serve` on PostgreSQL, a search a token-bearing client sends
   from 8 threads for `--seconds`, with GATEWAY_RATE_LIMIT_SCOPE=process and =database
   (limits far above the rate, so nothing is refused): requests/s and the ratio.

    .venv/bin/python -m bench.shared_rate_limit [--seconds 10] [--calls 5000]

GATEWAY_BENCH_POSTGRES_URL names a server where this user may CREATE DATABASE (default
postgresql://postgres@127.0.0.1:5432/test); the database made is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import text

from bench.stats import CallTiming, call_timing, time_calls
from gateway.auth.rate_limit import RateLimiter
from gateway.auth.shared_rate_limit import SharedRateLimiter
from gateway.commands.token import request_token
from gateway.platform import migrate
from gateway.platform.database import Database

REPO = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "GATEWAY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
HIGH = 1_000_000.0  # a rate no run reaches: nothing is refused, every call takes a token


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"gwbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def per_call(database: Database, calls: int) -> list[CallTiming]:
    local = RateLimiter()
    shared = SharedRateLimiter(database)
    shared.acquire_blocking("warm", HIGH, 10)

    def ping(_: int) -> None:
        with database.read() as connection:
            connection.execute(text("SELECT 1"))

    timings = [
        call_timing(
            "in-process RateLimiter.acquire",
            time_calls(calls, lambda _: local.acquire("client", HIGH, 1_000_000)),
        ),
        call_timing(
            "shared acquire_blocking (the upsert)",
            time_calls(calls, lambda _: shared.acquire_blocking("client", HIGH, 1_000_000)),
        ),
        call_timing("SELECT 1 through the same pool", time_calls(calls, ping)),
    ]

    async def awaited() -> list[int]:
        samples = []
        for _ in range(calls):
            started = time.perf_counter_ns()
            await shared.acquire("client", HIGH, 1_000_000)
            samples.append(time.perf_counter_ns() - started)
        return samples

    timings.append(call_timing("shared acquire, awaited (thread hop)", asyncio.run(awaited())))
    return timings


def concurrent(database_url: str, threads: int, seconds: float, *, one_key: bool) -> float:
    """Takes a second by `threads` takers, each with a pool of its own."""
    databases = [Database(database_url, pool_size=1, max_overflow=0) for _ in range(threads)]
    counts = [0] * threads
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(threads)

    def take(n: int) -> None:
        limiter = SharedRateLimiter(databases[n])
        key = "client" if one_key else f"client-{n}"
        barrier.wait()
        while time.monotonic() < stop:
            limiter.acquire_blocking(key, HIGH, 1_000_000)
            counts[n] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(take, range(threads)))
    elapsed = time.monotonic() - started
    for database in databases:
        database.dispose()
    return sum(counts) / elapsed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def served_rate(database_url: str, work: Path, scope: str, seconds: float) -> float:
    """Searches a second through one real server with the limiter in `scope`."""
    config = work / "config"
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_CONFIG_DIR": str(config),
        "GATEWAY_TOKEN_SIGNING_KEY": str(work / "token-key.pem"),
        "GATEWAY_AUDIT_SIGNING_KEY": str(work / "audit-key.pem"),
        "GATEWAY_PID_FILE": str(work / f"{scope}.pid"),
        "GATEWAY_RATE_LIMIT_SCOPE": scope,
        "GATEWAY_LOG_LEVEL": "warning",
    }
    with (work / f"serve-{scope}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.commands.cli", "serve", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start: see {log.name}")
                time.sleep(0.2)
            token = request_token(config, "demo-provider-epr", base).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            counts: list[int] = []

            def send(until: float) -> int:
                done = 0
                with httpx.Client(headers=headers) as http:
                    while time.monotonic() < until:
                        answer = http.get(f"{base}/fhir/Organization?_count=1")
                        if answer.status_code != 200:
                            raise SystemExit(f"{scope}: answered {answer.status_code}")
                        done += 1
                return done

            send(time.monotonic() + 1)  # warm
            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                counts = list(pool.map(send, [started + seconds] * 8))
            return sum(counts) / (time.monotonic() - started)
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--calls", type=int, default=5000)
    options = parser.parse_args()
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"code {described}, {os.cpu_count()} cores, {now}")
    with scratch_database() as url, tempfile.TemporaryDirectory() as scratch:
        database = Database(url, pool_size=4)
        migrate.upgrade(database)
        print(f"\n1. Per call, one at a time ({options.calls} calls), µs")
        print(f"{'call':42} {'median':>8} {'p99':>8} {'mean':>8}")
        timings = per_call(database, options.calls)
        for timing in timings:
            figures = f"{timing.median_us:8.1f} {timing.p99_us:8.1f} {timing.mean_us:8.1f}"
            print(f"{timing.check:42} {figures}")
        base = timings[0].median_us
        for timing in timings[1:]:
            print(f"  {timing.check}: {timing.median_us / base:.0f}x the in-process median")
        database.dispose()

        print(f"\n2. Concurrent takers, takes/s over {options.seconds / 2:.0f} s")
        for threads in (1, 4, 16):
            one = concurrent(url, threads, options.seconds / 2, one_key=True)
            each = concurrent(url, threads, options.seconds / 2, one_key=False)
            print(f"  {threads:2} takers: one bucket {one:8.0f}/s, a bucket each {each:8.0f}/s")

        work = Path(scratch)
        shutil.copytree(REPO / "config" / "demo", work / "config")
        clients = work / "config" / "clients.yaml"
        clients.write_text(
            clients.read_text().replace(
                "rate_limit: {per_second: 50, burst: 100}",
                "rate_limit: {per_second: 1000000, burst: 1000000}",
            )
        )
        print(f"\n3. One server, 8 client threads, {options.seconds:.0f} s of searches each way")
        rates: dict[str, list[float]] = {}
        for scope in ("process", "database", "process", "database"):
            rates.setdefault(scope, []).append(served_rate(url, work, scope, options.seconds))
        for scope, measured in rates.items():
            print(
                f"  GATEWAY_RATE_LIMIT_SCOPE={scope:8}: "
                + ", ".join(f"{r:.0f}/s" for r in measured)
            )
        process, shared = max(rates["process"]), max(rates["database"])
        print(f"  shared / in-process (best of two each): {shared / process:.2f}")


if __name__ == "__main__":
    main()
