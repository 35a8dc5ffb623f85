"""Benchmark the gateway: create throughput and search latency on SQLite and PostgreSQL.

For each database: a fresh store, grown in steps (10k, 100k, 1M by default) by the bulk
loader; at each step the real server (`gateway serve`) is started on it and measured over
HTTP, every request with an access token: searches from this process, creates with wrk
when it is installed (else httpx from this process), on one and on two server processes.
Before that, the cost of authentication: creates on a fresh store by the baseline (the
code before authentication, from a git worktree) without tokens and by this code with
them, and the token check timed in-process. See bench/README.md.

    python -m bench.run [--databases sqlite,postgresql] [--sizes 10000,100000,1000000]
    python -m bench.run --quick        # small sizes, a smoke check
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import measure, plans
from bench.auth import TOKEN_LIFETIME_SECONDS, BenchAuth, TokenSource, bench_auth
from bench.baseline import DEFAULT_REF, Baseline, foundation, measure_auth_cost
from bench.creates import CLIENTS, CreateLoad, create_load
from bench.data import Workload
from bench.load import LoadStats, load, writer_for
from bench.measure import REQUESTER, Throughput
from bench.report import machine, print_written, result_name, timings_table
from bench.run_report import Report, Stage, auth_cost_table, results_table
from bench.runner import arguments, create_warmup, database_list, log, stop_on_signals, temp_log
from bench.server import Servers, check_authenticates, running_server, upgrade
from bench.stores import (
    DATABASES,
    add_store_options,
    count_resources,
    fresh_store,
    server_version,
)
from bench.tokencheck import measure_token_check
from bench.verify import check_search_totals, start_store
from bench.wrk import TIMEOUT_S


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = arguments("bench.run", __doc__)
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
    parser.add_argument(
        "--baseline-ref",
        default=DEFAULT_REF,
        help="git ref of the code to measure creates without tokens on (the foundation, "
        "before authentication), for the cost of authentication (default: %(default)s)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the creates with and without tokens on fresh stores",
    )
    add_store_options(
        parser, seed=20261122, keep="the stores, and the benchmark's configuration and keys"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "2000,5000"
        args.requests, args.warmup, args.create_seconds = 100, 20, 3.0
    args.create_warmup = create_warmup(args.create_seconds)
    # A wrk run sends one token throughout: it must outlive the run and its last answers.
    longest = TOKEN_LIFETIME_SECONDS - TIMEOUT_S - 10
    if args.create_seconds > longest:
        parser.error(f"--create-seconds: at most {longest} (an access token lives 300 s)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    databases = database_list(args.databases)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    workers = sorted({int(count) for count in args.create_workers.split(",")})
    creates = create_load(args.create_client, args.clients)
    started = datetime.now(UTC)
    baseline_context = nullcontext(None) if args.no_baseline else foundation(args.baseline_ref)
    with bench_auth(keep=args.keep) as auth, baseline_context as baseline:
        return run(args, databases, sizes, workers, creates, started, auth, baseline)


def run(
    args: argparse.Namespace,
    databases: list[str],
    sizes: list[int],
    workers: list[int],
    creates: CreateLoad,
    started: datetime,
    auth: BenchAuth,
    baseline: Baseline | None,
) -> int:
    report = Report(
        started=started,
        machine=machine(),
        create_workers=workers,
        settings={
            "sizes": ", ".join(f"{size:,}" for size in sizes),
            "searches per query (after warm-up)": f"{args.requests} (warm-up {args.warmup})",
            "create load": creates.describe(),
            "creates": (
                f"{args.create_seconds:g} s measured after a {args.create_warmup:g} s "
                "warm-up (discarded), at "
                f"{'every size' if args.create_at == 'all' else 'the first size'}, "
                f"server processes: {', '.join(map(str, workers))}"
            ),
            "poll window": f"{args.window_minutes:g} min before the newest Communication",
            "arrival step": f"{args.step_seconds:g} s per loaded resource",
            "seed": args.seed,
            "authentication": (
                "every request with a bearer token from /oauth2/token (one client per "
                f"organisation, ES384 assertions; tokens live {TOKEN_LIFETIME_SECONDS} s); "
                "searches by the organisation party to what they find, creates by the "
                "requester's client"
            ),
            "baseline (creates without tokens)": (
                "none (--no-baseline)" if baseline is None else baseline.describe()
            ),
        },
    )
    name = result_name(started, "-".join(databases), quick=args.quick)
    log("timing the token check in-process")
    report.token_check = measure_token_check(auth, scale=0.25 if args.quick else 1.0)
    print(timings_table(report.token_check), flush=True)
    for database in databases:
        if baseline is not None:
            log(f"{database}: creates without tokens ({baseline.code.label}) and with them")
            log_path = temp_log(name, database, "auth-cost")
            cost = measure_auth_cost(
                database,
                Servers(args.postgres_url, auth, log_path, args.keep),
                baseline,
                creates,
                seconds=args.create_seconds,
                warmup=args.create_warmup,
            )
            report.auth_cost[database] = cost
            log(
                f"{database}: {cost.without_tokens.per_second:,.0f} creates/s without tokens, "
                f"{cost.with_tokens.per_second:,.0f} with them (x{cost.ratio:.2f})"
            )
            report.write(args.results, name)
        with fresh_store(database, args.postgres_url, keep=args.keep) as url:
            report.versions[database] = server_version(url)
            run_database(database, url, sizes, args, creates, report, name, auth)
    print(results_table(report.stages, workers))
    if report.auth_cost:
        print(auth_cost_table(report.auth_cost))
    print(timings_table(report.token_check))
    print_written(report.write(args.results, name))
    return 0


def run_database(
    database: str,
    url: str,
    sizes: list[int],
    args: argparse.Namespace,
    creates: CreateLoad,
    report: Report,
    name: str,
    auth: BenchAuth,
) -> None:
    log(f"{database}: migrating with `gateway db upgrade`")
    upgrade(url, auth)
    workload = Workload.before_now(args.seed, timedelta(seconds=args.step_seconds), max(sizes))
    server_log = temp_log(name, database, "server")
    log(f"{database}: server output goes to {server_log}")
    # The loader's connection is open only while it writes (see writer_for).
    with writer_for(url) as writer:
        compared = start_store(url, writer, workload, args.seed)
    log(f"{database}: loader rows match the server's own ({compared} resources compared)")
    for number, size in enumerate(sizes):
        log(f"{database}: loading to {size:,}")
        with writer_for(url) as writer:
            stats = load(writer, workload, size)
        log(
            f"{database}: loaded {stats.resources:,} in {stats.seconds:,.0f} s "
            f"({stats.per_second:,.0f}/s), VACUUM/ANALYZE {stats.analyze_seconds:,.1f} s"
        )
        stage = measure_stage(database, url, size, stats, workload, args, number, server_log, auth)
        if args.create_at == "all" or number == 0:
            stage.creates = measure_creates(
                database, url, creates, report.create_workers, args, number, server_log, auth
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
    auth: BenchAuth,
) -> Stage:
    stored = count_resources(url)
    poll = measure.poll_search(timedelta(minutes=args.window_minutes))
    count = args.warmup + args.requests
    by_patient = measure.searches(workload, measure.request_search, count, args.seed + number)
    polls = measure.searches(workload, poll, count, args.seed)
    with running_server(url, server_log, auth) as base:
        check_authenticates(base)
        tokens = TokenSource(base, auth)
        # Every asking organisation's token before the clock starts (each is renewed, not
        # timed either, should it come close to expiry during the searches).
        for ods in sorted({search.caller for search in by_patient + polls}):
            tokens.token(ods)
        log(
            f"{database}: searching ({stored:,} resources stored; "
            f"{tokens.fetched} organisations asking)"
        )
        by_patient_latency, by_patient_totals = measure.search_latency(
            base, tokens, by_patient, warmup=args.warmup
        )
        polling, poll_totals = measure.search_latency(base, tokens, polls, warmup=args.warmup)
        load_average = os.getloadavg()[0]
    # Each organisation found all there is: access control hid nothing from the searches.
    check_search_totals(url, by_patient[args.warmup :], by_patient_totals, label="SR by NHS number")
    check_search_totals(url, polls[args.warmup :], poll_totals, label="Comm poll")
    rng = random.Random(args.seed)
    query_plans = {
        "ServiceRequest?subject:identifier": plans.explain(
            url, measure.request_search(workload, rng)
        ),
        "Communication?recipient&_lastUpdated": plans.explain(url, poll(workload, rng)),
    }
    return Stage(
        database=database,
        size=size,
        stored=stored,
        load=stats,
        request_search=by_patient_latency,
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
    auth: BenchAuth,
) -> dict[int, Throughput]:
    """Create throughput with each number of server processes, each on a fresh server;
    every create sent with a token of the requester's client."""
    results: dict[int, Throughput] = {}
    for count in workers:
        with running_server(url, server_log, auth, workers=count) as base:
            log(f"{database}: creating on {count} server process(es)")
            tokens = TokenSource(base, auth)
            result = creates.run(
                base,
                seconds=args.create_seconds,
                warmup=args.create_warmup,
                # HTTP patients apart from those of other databases, sizes and servers
                first_patient=number * 1_000_000
                + (0 if database == "sqlite" else 500_000)
                + count * 10_000,
                bearer=tokens.bearer(REQUESTER.ods),
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


if __name__ == "__main__":
    sys.exit(main())
