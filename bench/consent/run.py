"""Benchmark consent and data-sharing enforcement: the decision point in process, and
search latency with enforcement off and on against the same store, in the same run.

1. `consent.decide` with 100 agreements and 10 consent statements (and with none), and
   `SharingPolicy.on_read` per record, timed one call at a time (bench/consent/decisions.py).
2. For each database: a fresh store grown to each size by bench/load.py (bench.run's
   seeded workload) with Consent resources for about 1% of patients; then
   `ResourceService.search` in process, enforcement off (`sharing=None`) and on
   (`SharingPolicy`), interleaved; statements per search; the query plans
   (bench/consent/searches.py).

Writes bench/results/<timestamp>-consent.md and .json. See bench/README.md.

    python -m bench.consent [--databases postgresql,sqlite] [--sizes 1000000]
    python -m bench.consent --sizes 10000                       # a check, ~3 min
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bench.auth import BenchAuth, bench_auth
from bench.consent.decisions import measure_decisions
from bench.consent.report import ConsentReport, Stage, searches_table
from bench.consent.searches import (
    ConsentPlan,
    Searcher,
    count_statements,
    explain,
    measure,
    search_kinds,
    write_consents,
)
from bench.data import Workload
from bench.load import LoadStats, Parties, load, writer_for
from bench.report import machine, print_written, result_name, timings_table
from bench.runner import arguments, command_line, database_list, log, stop_on_signals
from bench.server import upgrade
from bench.stores import add_store_options, count_resources, fresh_store, server_version
from bench.verify import start_store
from consent.agreements import Agreement, shared_with
from gateway.configuration.loader import load_config
from gateway.platform.database import Database

# The same seed as bench.run, so the stores hold the same resources.
DEFAULT_SEED = 20261122


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = arguments("bench.consent", __doc__)
    parser.add_argument("--databases", default="postgresql,sqlite", help="%(default)s")
    parser.add_argument(
        "--sizes", default="1000000", help="resources to grow the store to, in steps: %(default)s"
    )
    parser.add_argument(
        "--queries", type=int, default=300, help="searches per kind and mode: %(default)s"
    )
    parser.add_argument("--warmup", type=int, default=30, help="rounds before measuring")
    parser.add_argument(
        "--decisions",
        type=int,
        default=200_000,
        help="timed decide() calls per row (0 skips the in-process decision timings)",
    )
    parser.add_argument(
        "--no-searches", action="store_true", help="only the in-process decision timings"
    )
    parser.add_argument(
        "--consent-share",
        type=float,
        default=0.01,
        help="share of patients with Consent resources: %(default)s",
    )
    parser.add_argument(
        "--poll-minutes",
        type=float,
        default=10.0,
        help="the poll's _lastUpdated window, as bench.run's: %(default)s",
    )
    parser.add_argument(
        "--inbox-hours",
        type=float,
        default=24.0,
        help="the inbox search's _lastUpdated window (_count=20, newest first): %(default)s",
    )
    parser.add_argument(
        "--count-statements",
        type=int,
        default=50,
        help="searches per kind and mode in the untimed statement-counting pass",
    )
    parser.add_argument("--step-seconds", type=float, default=1.0)
    add_store_options(
        parser, seed=DEFAULT_SEED, keep="the stores, and the benchmark's configuration"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    databases = database_list(args.databases)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    started = datetime.now(UTC)
    report = ConsentReport(
        started=started,
        command=command_line("bench.consent", argv),
        machine=machine(),
        settings={
            "decide() calls per row": f"{args.decisions:,}",
            "sizes": "none" if args.no_searches else ", ".join(f"{s:,}" for s in sizes),
            "searches per kind and mode (after warm-up)": (
                f"{args.queries} (warm-up {args.warmup} rounds)"
            ),
            "patients with Consent resources": f"{args.consent_share:.1%}",
            "windows": (
                f"poll {args.poll_minutes:g} min, inbox {args.inbox_hours:g} h before the "
                "newest Communication"
            ),
            "arrival step": f"{args.step_seconds:g} s per loaded resource",
            "seed": args.seed,
        },
    )
    name = result_name(started, "consent")
    if args.decisions > 0:
        log(f"timing decisions in process ({args.decisions:,} calls per row)")
        report.decisions = measure_decisions(args.decisions, args.seed, started)
        print(timings_table(report.decisions), flush=True)
        report.write(args.results, name)
    if not args.no_searches:
        with bench_auth(keep=args.keep) as auth:
            agreements = list(load_config(auth.config_dir).agreements)
            report.settings["agreements"] = ", ".join(
                f"{a.label} ({len(a.parties)} parties)" for a in agreements
            )
            for database in databases:
                with fresh_store(database, args.postgres_url, keep=args.keep) as url:
                    report.versions[database] = server_version(url)
                    run_database(database, url, sizes, args, auth, agreements, report, name)
        print(searches_table(report.stages), flush=True)
    print_written(report.write(args.results, name))
    return 0


def run_database(
    database: str,
    url: str,
    sizes: list[int],
    args: argparse.Namespace,
    auth: BenchAuth,
    agreements: list[Agreement],
    report: ConsentReport,
    name: str,
) -> None:
    log(f"{database}: migrating with `gateway db upgrade`")
    upgrade(url, auth)
    workload = Workload.before_now(args.seed, timedelta(seconds=args.step_seconds), max(sizes))
    plan = ConsentPlan(workload, args.consent_share, args.seed + 7)
    consents = plan.sample(6, args.seed + 2)
    # The loader's connection is open only while it writes (see writer_for).
    with writer_for(url) as writer:
        compared = start_store(url, writer, workload, args.seed, consents)
    log(
        f"{database}: loader rows match the server's own ({compared} resources compared, "
        f"{len(consents)} of them Consents)"
    )
    parties = Parties(workload.organisations)
    for number, size in enumerate(sizes):
        log(f"{database}: loading to {size:,}")
        with writer_for(url) as writer:
            written = write_consents(writer, plan.next_consents(size), parties)
            stats = load(writer, workload, size)
        log(
            f"{database}: loaded {stats.resources:,} in {stats.seconds:,.0f} s and "
            f"{written:,} Consents; VACUUM/ANALYZE {stats.analyze_seconds:,.1f} s"
        )
        stage = measure_stage(database, url, size, stats, workload, plan, agreements, args, number)
        report.stages.append(stage)
        print(searches_table([stage]), flush=True)
        report.write(args.results, name)


def measure_stage(
    database: str,
    url: str,
    size: int,
    stats: LoadStats,
    workload: Workload,
    plan: ConsentPlan,
    agreements: list[Agreement],
    args: argparse.Namespace,
    number: int,
) -> Stage:
    began = time.perf_counter()
    stored = count_resources(url)
    kinds = search_kinds(
        workload,
        plan,
        args.warmup + args.queries,
        args.seed + number,
        poll_minutes=args.poll_minutes,
        inbox_hours=args.inbox_hours,
    )
    db = Database(url)
    try:
        searcher = Searcher(db, agreements)
        log(
            f"{database}: searching ({stored:,} resources stored, "
            f"{plan.resources:,} Consents of {len(plan.kinds):,} patients)"
        )
        results = measure(searcher, kinds, args.warmup, plan.consenting_nhs_numbers(), log=log)
        load_average = os.getloadavg()[0]
        log(f"{database}: counting statements and explaining")
        count_statements(searcher, kinds, results, min(args.count_statements, args.queries))
        for kind, result in zip(kinds, results, strict=True):
            search = kind.searches[-1]
            result.plans = {mode: explain(searcher, search, mode) for mode in ("on", "off")}
    finally:
        db.dispose()
    reader = kinds[0].searches[0].caller
    origins = shared_with(agreements, reader, "direct-care", datetime.now(UTC))
    return Stage(
        database=database,
        size=size,
        stored=stored,
        consents=plan.resources,
        consenting_patients=len(plan.kinds),
        patients=plan.upto(size),
        load=stats,
        searches=results,
        agreement_origins=len(origins),
        load_average=load_average,
        seconds=time.perf_counter() - began,
    )


if __name__ == "__main__":
    sys.exit(main())
