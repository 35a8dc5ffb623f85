"""How throughput grows with the number of `gateway serve` processes on one PostgreSQL.

For each step of `--processes` (default 1,2,3,1: the last repeats the first, so drift on
the machine over the run shows): a fresh PostgreSQL database (`gateway db upgrade`), that
many `gateway serve` processes on it, each on a port of its own (as replicas behind a
load balancer), then

- **creates**: `POST /fhir/ServiceRequest` (one ServiceRequest, requester AZZ, performer
  RZZ), and
- **handovers**: `POST /api/handovers` (the spec's handover example, five resources, each
  with an external_id and patient of its own),

each driven by a fixed load generator: `--connections` connections in all, split evenly
over the servers, one `wrk` (one thread) per server, all started together. A warm-up of
each kind (its answers drained, discarded) comes before the measured run; the measured
run's bodies are not the warm-up's, so no handover is a repeat. Figures are the sum of
the 201s over the servers divided by the measured seconds, and each step's ratio to the
first step's (one process) in the same run. Around each measured run: the machine's busy
CPU (/proc/stat), so what the two cores allowed can be read beside the figures: the load
generator, the servers and PostgreSQL all share them; and the CPU time the gateway
processes and the PostgreSQL backends of the run's database spent per request, which is
what capacity is sized from (it holds whatever else the machine is doing); and how much
the database grew per request stored (pg_database_size: tables, indexes, the access
log).

Writes bench/results/<timestamp>-scaling.md (and raw/ .json). See bench/README.md.

    python -m bench.scaling [--processes 1,2,3,1] [--seconds 10] [--connections 24]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench import wrk
from bench.auth import DATASET_SCOPES, SCOPES, BenchAuth, TokenSource, bench_auth, client_id
from bench.cpu import descendants, machine_busy, process_cpu
from bench.handovers.examples import Handovers
from bench.report import BenchmarkReport, machine, markdown_table, print_written, result_name
from bench.runner import arguments, command_line, log, stop_on_signals, temp_log
from bench.server import check_authenticates, running_server, upgrade
from bench.stores import add_store_options, fresh_store, query, server_version

KINDS = ("create", "handover")
PATHS = {"create": "/fhir/ServiceRequest", "handover": "/api/handovers"}
WARMUP_S = 3
# Distinct handover bodies per wrk run (each server's warm-up and measured run has its
# own): more than one server process pushes in a run (about 150/s at most here).
HANDOVER_BODIES = 4000


@dataclass
class KindFigure:
    kind: str
    per_second: float
    created: int
    errors: int
    seconds: float
    p50_ms: float  # the worst server's
    p99_ms: float  # the worst server's
    client_cpu: float  # cores the wrk processes used together
    server_cpu_ms: float  # CPU of the gateway processes, per 201
    database_cpu_ms: float  # CPU of the PostgreSQL backends serving this store, per 201
    bytes_per_request: float  # growth of the database (pg_database_size) per 201
    machine_busy: float  # cores busy on the whole machine over the run


@dataclass
class Step:
    processes: int
    load_before: float = 0.0  # the 1-minute load average as the step began
    figures: dict[str, KindFigure] = field(default_factory=dict)


@dataclass
class ScalingReport(BenchmarkReport):
    steps: list[Step] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [*self.header("Scale-out on one PostgreSQL"), ""]
        if self.steps:
            lines += [self.table(), ""]
        return "\n".join(lines)

    def table(self) -> str:
        first = self.steps[0].figures
        rows = []
        for step in self.steps:
            for kind in KINDS:
                figure = step.figures.get(kind)
                if figure is None:
                    continue
                base = first.get(kind)
                ratio = figure.per_second / base.per_second if base and base.per_second else 0.0
                rows.append(
                    (
                        step.processes,
                        kind,
                        f"{figure.per_second:,.1f}",
                        f"{ratio:.2f}",
                        f"{figure.p50_ms:,.0f} / {figure.p99_ms:,.0f}",
                        figure.errors,
                        f"{figure.server_cpu_ms:.1f} + {figure.database_cpu_ms:.1f}",
                        f"{figure.bytes_per_request / 1024:,.1f}",
                        f"{figure.client_cpu:.2f}",
                        f"{figure.machine_busy:.2f}",
                        f"{step.load_before:.2f}",
                    )
                )
        return markdown_table(
            "processes | kind | per second | ratio to 1 process | p50 / p99 ms (worst server) "
            "| errors | CPU ms per request: gateway + PostgreSQL | KiB stored per request "
            "| wrk cores "
            "| machine cores busy | load before",
            rows,
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = arguments("bench.scaling", __doc__)
    parser.add_argument("--processes", default="1,2,3,1", help="%(default)s")
    parser.add_argument(
        "--seconds", type=int, default=10, help="measured seconds of each kind: %(default)s"
    )
    parser.add_argument(
        "--connections", type=int, default=24, help="connections in all: %(default)s"
    )
    add_store_options(parser, seed=20261208, keep="the stores, and the benchmark's configuration")
    args = parser.parse_args(argv)
    args.steps = [int(n) for n in args.processes.split(",") if n.strip()]
    if not args.steps or min(args.steps) < 1 or args.seconds < 1:
        parser.error("--processes and --seconds must be positive")
    if args.connections < max(args.steps):
        parser.error("--connections must be at least the largest number of processes")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("bench.scaling needs wrk on PATH (Debian: apt install wrk)")
    started = datetime.now(UTC)
    report = ScalingReport(
        started=started,
        command=command_line("bench.scaling", argv),
        machine=machine(),
        settings={
            "load": (
                f"wrk {wrk.version(path)}: {args.connections} connections in all, split evenly "
                "over the servers, one wrk process (one thread) per server, started together"
            ),
            "runs": f"{WARMUP_S} s warm-up of each kind (discarded), then {args.seconds} s",
            "servers": "`gateway serve`, one uvicorn process each, on a port of its own",
            "authentication": "AZZ's client (bench-azz), one token per server",
        },
    )
    name = result_name(started, "scaling")
    with bench_auth(keep=args.keep) as auth:
        for number, processes in enumerate(args.steps):
            with fresh_store("postgresql", args.postgres_url, keep=args.keep) as url:
                report.versions["postgresql"] = server_version(url)
                log(f"step {number + 1}: {processes} processes")
                report.steps.append(
                    run_step(url, processes, args, auth, path, name, started, number)
                )
            print(report.table(), flush=True)
            report.write(args.results, name)
    print_written(report.write(args.results, name))
    return 0


@contextmanager
def _servers(url: str, processes: int, auth: BenchAuth, name: str) -> Iterator[list[str]]:
    with ExitStack() as stack:
        bases = [
            stack.enter_context(running_server(url, temp_log(name, f"server{n}"), auth))
            for n in range(processes)
        ]
        yield bases


def run_step(
    url: str,
    processes: int,
    args: argparse.Namespace,
    auth: BenchAuth,
    path: str,
    name: str,
    started: datetime,
    number: int,
) -> Step:
    upgrade(url, auth)
    step = Step(processes, load_before=os.getloadavg()[0])
    with _servers(url, processes, auth, name) as bases:
        for base in bases:
            check_authenticates(base)
        tokens = [TokenSource(base, auth) for base in bases]
        split = _split(args.connections, processes)
        scripts = _scripts(processes, started, number)
        for kind in KINDS:
            step.figures[kind] = _measure(
                url, path, kind, bases, tokens, split, scripts[kind], args.seconds
            )
            figure = step.figures[kind]
            log(
                f"{processes} processes: {kind} {figure.per_second:,.1f}/s "
                f"({figure.errors} errors, machine {figure.machine_busy:.2f} cores busy)"
            )
    return step


def _split(connections: int, processes: int) -> list[int]:
    each, extra = divmod(connections, processes)
    return [each + (1 if n < extra else 0) for n in range(processes)]


def _scripts(
    processes: int, started: datetime, number: int
) -> dict[str, list[tuple[wrk.Script, wrk.Script]]]:
    """Per kind, per server: (warm-up, measured) scripts, no body used twice."""
    creates = []
    handovers = []
    json_headers = {"Content-Type": "application/json", "Accept": "application/json"}
    for server in range(processes):
        first = 1_000_000 + (number * 10 + server) * 10_000
        creates.append((wrk.creates(first), wrk.creates(first + 5_000)))
        # Due a few hours after this step, whenever it runs.
        bodies = Handovers(f"S{number}P{server}", started + timedelta(hours=1))
        pair = tuple(
            wrk.Script(
                f"handover-{part}",
                "POST",
                [bodies.body().decode() for _ in range(HANDOVER_BODIES)],
                201,
                json_headers,
            )
            for part in ("warmup", "measured")
        )
        handovers.append((pair[0], pair[1]))
    return {"create": creates, "handover": handovers}


def _database_size(url: str) -> int:
    (row,) = query(url, "SELECT pg_database_size(current_database())")
    return int(row[0])


def _backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to `database` (its process title
    names the database: 'postgres: <user> <database> ...')."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found[int(entry.name)] = process_cpu(int(entry.name))
    return found


def _cpu_since(after: dict[int, float], before: dict[int, float]) -> float:
    """What the backends alive at the end used since `before` (new ones: all of theirs)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _measure(
    url: str,
    path: str,
    kind: str,
    bases: list[str],
    tokens: list[TokenSource],
    split: list[int],
    scripts: list[tuple[wrk.Script, wrk.Script]],
    seconds: int,
) -> KindFigure:
    sender = client_id("AZZ")
    with tempfile.TemporaryDirectory(prefix="gwbench-scaling-") as directory:

        def script_file(server: int, part: int, valid_for: float) -> Path:
            token = tokens[server].client_token(
                sender, [*SCOPES, *DATASET_SCOPES], valid_for=valid_for
            )
            file = Path(directory) / f"{kind}-{server}-{part}.lua"
            file.write_text(scripts[server][part].lua(f"Bearer {token}"))
            return file

        def together(part: int, run_seconds: int, warmup: int | None) -> list[wrk.WrkResult]:
            files = [script_file(n, part, run_seconds + wrk.TIMEOUT_S) for n in range(len(bases))]
            results: list[Any] = [None] * len(bases)

            def one(n: int) -> None:
                results[n] = wrk.run_wrk(
                    path,
                    f"{bases[n]}{PATHS[kind]}",
                    files[n],
                    connections=split[n],
                    seconds=run_seconds,
                    warmup=warmup,
                )

            threads = [threading.Thread(target=one, args=(n,)) for n in range(len(bases))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if any(result is None for result in results):
                raise RuntimeError(f"a wrk run of {kind} failed")
            return results

        size_before = _database_size(url)
        warm = together(0, WARMUP_S + wrk.DRAIN_S, WARMUP_S)
        servers = descendants()  # the servers only: no wrk runs now
        database = make_url(url).database or ""
        server_before = sum(process_cpu(pid) for pid in servers)
        database_before = _backends_cpu(database)
        busy_before, wall_before = machine_busy(), time.monotonic()
        measured = together(1, seconds, None)
        busy = (machine_busy() - busy_before) / (time.monotonic() - wall_before)
        server_cpu = sum(process_cpu(pid) for pid in servers) - server_before
        database_cpu = _cpu_since(_backends_cpu(database), database_before)
    stored = sum(result.created for result in [*warm, *measured])
    grown = _database_size(url) - size_before
    created = sum(result.created for result in measured)
    per_request = 1000 / max(created, 1)
    duration = max(result.seconds for result in measured)
    return KindFigure(
        kind=kind,
        per_second=created / duration,
        created=created,
        errors=sum(result.errors for result in measured),
        seconds=duration,
        p50_ms=max(result.p50_ms for result in measured),
        p99_ms=max(result.p99_ms for result in measured),
        client_cpu=sum(result.client_cpu for result in measured),
        server_cpu_ms=server_cpu * per_request,
        database_cpu_ms=database_cpu * per_request,
        bytes_per_request=grown / max(stored, 1),
        machine_busy=busy,
    )
