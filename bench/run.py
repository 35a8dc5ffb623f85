"""Benchmark the gateway: create throughput and search latency on SQLite and PostgreSQL.

For each database: a fresh store, grown in steps (10k, 100k, 1M by default) by the bulk
loader; at each step the real server (`gateway serve`) is started on it and measured over
HTTP: searches from this process, creates with wrk when it is installed (else httpx from
this process), on one and on two server processes. See bench/README.md.

    python -m bench.run [--databases sqlite,postgresql] [--sizes 10000,100000,1000000]
    python -m bench.run --quick        # small sizes, a smoke check
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import measure, plans
from bench.creates import CLIENTS, CreateLoad, create_load
from bench.data import Workload
from bench.load import LoadStats, load, writer_for
from bench.measure import Throughput
from bench.report import Report, Stage, machine, result_name, results_table
from bench.server import running_server, upgrade
from bench.stores import DATABASES, count_resources, fresh_store, server_version
from bench.verify import check_loader_rows

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--databases", default=",".join(DATABASES))
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--quick", action="store_true", help="sizes 2000,5000; fewer requests")
    parser.add_argument("--requests", type=int, default=500, help="searches per query type")
    parser.add_argument("--warmup", type=int, default=50, help="searches before measuring")
    parser.add_argument("--clients", type=int, default=32, help="concurrent creating connections")
    parser.add_argument("--create-seconds", type=float, default=10.0)
    parser.add_argument(
        "--create-at",
        choices=("first", "all"),
        default="first",
        help="measure create throughput at the first (smallest) size only, or at every size",
    )
    parser.add_argument(
        "--create-workers",
        default="1,2",
        help="server processes (`gateway serve --workers N`) to measure creates with",
    )
    parser.add_argument(
        "--create-client",
        choices=CLIENTS,
        default="auto",
        help="load generator for creates: wrk if on PATH (auto), else httpx from this process",
    )
    parser.add_argument(
        "--window-minutes",
        type=float,
        default=10.0,
        help="how far before the newest Communication the _lastUpdated poll looks",
    )
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=1.0,
        help="time between two loaded resources (the store's arrival rate)",
    )
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("GATEWAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database on a server where this user may CREATE DATABASE",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "2000,5000"
        args.requests, args.warmup, args.create_seconds = 100, 20, 3.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Stopped with SIGTERM (or SIGINT, which background jobs ignore): unwind, so the
    # server is stopped and the PostgreSQL database dropped.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    sizes = sorted(int(size) for size in args.sizes.split(","))
    workers = sorted({int(count) for count in args.create_workers.split(",")})
    creates = create_load(args.create_client, args.clients)
    started = datetime.now(UTC)
    report = Report(
        started=started,
        machine=machine(),
        create_workers=workers,
        settings={
            "sizes": ", ".join(f"{size:,}" for size in sizes),
            "searches per query (after warm-up)": f"{args.requests} (warm-up {args.warmup})",
            "create load": creates.describe(),
            "creates": (
                f"{args.create_seconds:g} s measured after a {_create_warmup(args):g} s "
                "warm-up (discarded), at "
                f"{'every size' if args.create_at == 'all' else 'the first size'}, "
                f"server processes: {', '.join(map(str, workers))}"
            ),
            "poll window": f"{args.window_minutes:g} min before the newest Communication",
            "arrival step": f"{args.step_seconds:g} s per loaded resource",
            "seed": args.seed,
        },
    )
    name = result_name(started, databases, args.quick)
    for database in databases:
        with fresh_store(database, args.postgres_url, keep=args.keep) as url:
            report.versions[database] = server_version(url)
            run_database(database, url, sizes, args, creates, report, name)
    print(results_table(report.stages, workers))
    path = report.write(args.results, name)
    print(f"\nwritten to {path} and {path.with_suffix('.json')}")
    return 0


def run_database(
    database: str,
    url: str,
    sizes: list[int],
    args: argparse.Namespace,
    creates: CreateLoad,
    report: Report,
    name: str,
) -> None:
    log(f"{database}: migrating with `gateway db upgrade`")
    upgrade(url)
    step = timedelta(seconds=args.step_seconds)
    # The loaded timeline ends a day before now, so HTTP creates are always the newest.
    start = datetime.now(UTC).replace(microsecond=0) - step * max(sizes) - timedelta(days=1)
    workload = Workload(seed=args.seed, start=start, step=step)
    server_log = Path(tempfile.gettempdir()) / f"{name}-{database}-server.log"
    log(f"{database}: server output goes to {server_log}")
    with writer_for(url) as writer:
        sample = Workload(seed=args.seed + 1, start=start, step=step).next_batch(50)
        check_loader_rows(url, writer, sample)
        log(f"{database}: loader rows match the server's own (50 resources compared)")
        for number, size in enumerate(sizes):
            log(f"{database}: loading to {size:,}")
            stats = load(writer, workload, size)
            log(
                f"{database}: loaded {stats.resources:,} in {stats.seconds:,.0f} s "
                f"({stats.per_second:,.0f}/s), VACUUM/ANALYZE {stats.analyze_seconds:,.1f} s"
            )
            stage = measure_stage(database, url, size, stats, workload, args, number, server_log)
            if args.create_at == "all" or number == 0:
                stage.creates = measure_creates(
                    database, url, creates, report.create_workers, args, number, server_log
                )
            report.stages.append(stage)
            print(results_table([stage], report.create_workers).splitlines()[-1], flush=True)
            report.write(args.results, name)  # partial results survive a later failure


def measure_stage(
    database: str,
    url: str,
    size: int,
    stats: LoadStats,
    workload: Workload,
    args: argparse.Namespace,
    number: int,
    server_log: Path,
) -> Stage:
    stored = count_resources(url)
    poll = measure.poll_search(timedelta(minutes=args.window_minutes))
    with running_server(url, server_log) as base:
        log(f"{database}: searching ({stored:,} resources stored)")
        by_patient = measure.search_latency(
            base,
            workload,
            measure.request_search,
            requests=args.requests,
            warmup=args.warmup,
            seed=args.seed + number,
        )
        polling = measure.search_latency(
            base, workload, poll, requests=args.requests, warmup=args.warmup, seed=args.seed
        )
        load_average = os.getloadavg()[0]
    rng = random.Random(args.seed)
    query_plans = {
        "ServiceRequest?subject:identifier": plans.explain(
            url, *measure.request_search(workload, rng)
        ),
        "Communication?recipient&_lastUpdated": plans.explain(url, *poll(workload, rng)),
    }
    return Stage(
        database=database,
        size=size,
        stored=stored,
        load=stats,
        request_search=by_patient,
        poll_search=polling,
        load_average=load_average,
        plans=query_plans,
    )


def measure_creates(
    database: str,
    url: str,
    creates: CreateLoad,
    workers: list[int],
    args: argparse.Namespace,
    number: int,
    server_log: Path,
) -> dict[int, Throughput]:
    """Create throughput with each number of server processes, each on a fresh server."""
    results: dict[int, Throughput] = {}
    for count in workers:
        with running_server(url, server_log, workers=count) as base:
            log(f"{database}: creating on {count} server process(es)")
            result = creates.run(
                base,
                seconds=args.create_seconds,
                warmup=_create_warmup(args),
                # HTTP patients apart from those of other databases, sizes and servers
                first_patient=number * 1_000_000
                + (0 if database == "sqlite" else 500_000)
                + count * 10_000,
            )
        if result.failed:
            log(
                f"{database}: FAILED: {result.errors} creates failed, {result.created} "
                "succeeded; the table marks the measurement failed"
            )
        log(
            f"{database}: {result.per_second:,.0f} creates/s, p50 {result.p50_ms:.0f} ms, "
            f"p99 {result.p99_ms:.0f} ms (client used {result.client_cpu:.0%} of a core)"
        )
        results[count] = result
    return results


def _create_warmup(args: argparse.Namespace) -> float:
    """2 s, discarded (less in a run shorter than 6 s)."""
    seconds: float = args.create_seconds
    return min(2.0, seconds / 3)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def log(line: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
