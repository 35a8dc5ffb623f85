"""What the HTTP limits cost: `gateway serve` of another revision (default `c002849^`, the
commit before them, which serves through uvicorn's httptools parser with no limits)
against this checkout's (h11 with gateway/web/http_limits.py), in the same run, interleaved
round by round.

    .venv/bin/python -m bench.http_stack                      # 3 rounds, SQLite
    .venv/bin/python -m bench.http_stack --ref 816f461 --rounds 5 --database postgresql

Each server gets a fresh store (`gateway db upgrade` by its own code) and the benchmark's
configuration (bench/auth.py). Two loads, one after the other, by httpx from this process:
authenticated creates (bench/measure.py's, the whole stack) and GET /healthz (no database,
no audit: the parser and the middleware are most of it, so the worst case for the
parser's share). Each server is checked to be the stack it claims: a 40 KB request head
is answered 431 by this checkout and 200 by the revision without limits.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import h11
import httptools
import httpx

from bench.auth import TokenSource, bench_auth
from bench.baseline import foundation
from bench.creates import CreateLoad
from bench.measure import REQUESTER
from bench.report import markdown_table, result_name
from bench.runner import log
from bench.server import CURRENT, Servers
from bench.stores import DEFAULT_POSTGRES_URL, RESULTS
from gateway.platform.settings import Settings
from gateway.web.http_limits import BoundedConnection, ConnectionLimits

# The commit before "gateway serve speaks HTTP through h11 with limits" (c002849).
DEFAULT_REF = "c002849^"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_stack", description=__doc__)
    parser.add_argument("--ref", default=DEFAULT_REF, help="the revision without limits")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    figures: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    servers_log = Path(tempfile.mkdtemp(prefix="gwbench-http-")) / "servers.log"
    with bench_auth() as auth, foundation(args.ref) as before:
        servers = Servers(args.postgres_url, auth, servers_log)
        sides = [("before", before.code, False), ("after", CURRENT, True)]
        for round_number in range(args.rounds):
            # Alternate which side goes first, so drift in the machine's speed is shared.
            for side, code, limited in sides if round_number % 2 == 0 else sides[::-1]:
                with servers.fresh(args.database, code) as base:
                    check_stack(base, limited=limited)
                    measured = measure(base, TokenSource(base, auth), args)
                for name, value in measured.items():
                    figures[side].setdefault(name, []).append(value)
                log(f"round {round_number + 1} {side}: {measured}")
    parsing = parse_cost()
    log(f"in process: {parsing}")
    report = render(figures, before.describe(), args, argv, parsing)
    print(report)
    (RESULTS / f"{result_name(datetime.now(UTC), 'http-stack')}.md").write_text(report)
    return 0


def measure(base: str, tokens: TokenSource, args: argparse.Namespace) -> dict[str, float]:
    creates = CreateLoad(args.clients, reason="bench.http_stack").run(
        base,
        seconds=args.seconds,
        warmup=args.warmup,
        first_patient=int(time.time() * 1000) % 1_000_000,
        bearer=tokens.bearer(REQUESTER.ods),
    )
    if creates.failed:
        raise RuntimeError(f"creates failed: {creates}")
    health = asyncio.run(_healthz(base, args.clients, args.seconds, args.warmup))
    return {
        "creates/s": creates.per_second,
        "create p50 ms": creates.p50_ms,
        "create p99 ms": creates.p99_ms,
        "healthz/s": health,
    }


async def _healthz(base: str, clients: int, seconds: float, warmup: float) -> float:
    started = time.perf_counter()
    measure_from, stop_at = started + warmup, started + warmup + seconds
    answered = 0

    async def loop(client: httpx.AsyncClient) -> None:
        nonlocal answered
        while (now := time.perf_counter()) < stop_at:
            response = await client.get("/healthz")
            if response.status_code != 200:
                raise RuntimeError(f"/healthz answered {response.status_code}")
            if now >= measure_from:
                answered += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await asyncio.gather(*(loop(client) for _ in range(clients)))
    return answered / seconds


# A create's request head as the benchmark's clients send it (a 700-byte token).
_HEAD = (
    b"POST /fhir/ServiceRequest HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n"
    b"Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nUser-Agent: python-httpx\r\n"
    b"Content-Type: application/fhir+json\r\nContent-Length: 2\r\n"
    b"X-Request-ID: 6f1c1f0e-8a4e-4d0c-9a55-3f2b9b4f6d10\r\n"
    b"Authorization: Bearer " + b"x" * 700 + b"\r\n\r\n{}"
)


class _Head:
    """What uvicorn's httptools protocol collects from its parser's callbacks."""

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))


def parse_cost(count: int = 20_000) -> dict[str, float]:
    """Microseconds of one core to parse one request (head and a 2-byte body) on a new
    connection: httptools as uvicorn drives it, and h11 as the gateway's limited protocol
    does (gateway/web/http_limits.py), median of five batches."""
    limits = ConnectionLimits.from_settings(Settings())

    def with_httptools() -> None:
        head = _Head()
        httptools.HttpRequestParser(head).feed_data(_HEAD)

    def with_h11() -> None:
        connection = BoundedConnection(limits)
        connection.receive_data(_HEAD)
        event = connection.next_event()
        while not isinstance(event, h11.EndOfMessage):
            event = connection.next_event()

    costs: dict[str, float] = {}
    for name, parse in (
        ("httptools parse us", with_httptools),
        ("h11 + limits parse us", with_h11),
    ):
        batches = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(count // 5):
                parse()
            batches.append((time.process_time() - started) / (count // 5) * 1e6)
        costs[name] = statistics.median(batches)
    return costs


def check_stack(base: str, *, limited: bool) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        head = b"GET /healthz HTTP/1.1\r\nHost: b\r\nX-Big: " + b"a" * 40_000 + b"\r\n"
        connection.sendall(head + b"Connection: close\r\n\r\n")
        status = int(connection.recv(64).split(b" ", 2)[1])
    if status != (431 if limited else 200):
        raise RuntimeError(f"a 40 KB head answered {status}: not the stack expected")


def render(
    figures: dict[str, dict[str, list[float]]],
    baseline: str,
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    parsing: dict[str, float],
) -> str:
    command = " ".join(["python -m bench.http_stack", *(argv or sys.argv[1:])])
    lines = [
        f"# HTTP stack: {baseline} (httptools, no limits) against this checkout (h11, limits)",
        "",
        f"`{command}`; {args.rounds} rounds, interleaved; {args.database}; "
        f"{args.clients} connections; {args.seconds:g} s measured after {args.warmup:g} s.",
        "",
        markdown_table(
            "Measure | before (median) | after (median) | after / before"
            " | every round, before | every round, after",
            (
                _row(name, figures["before"][name], figures["after"][name])
                for name in figures["before"]
            ),
        ),
        "",
    ]
    lines += ["In process, one request parsed on a new connection (median of 5 batches):", ""]
    lines += [f"- {name}: {value:.1f}" for name, value in parsing.items()]
    return "\n".join(lines) + "\n"


def _row(name: str, before: list[float], after: list[float]) -> list[str]:
    old, new = statistics.median(before), statistics.median(after)
    return [
        name,
        f"{old:.1f}",
        f"{new:.1f}",
        f"x{new / old:.2f}",
        ", ".join(f"{v:.1f}" for v in before),
        ", ".join(f"{v:.1f}" for v in after),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
