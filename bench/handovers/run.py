"""Benchmark the handover pipeline: the pure mapping in process, and POST /api/handovers
over HTTP beside the foundation's plain create, in the same run, on each database.

1. `parse_dataset`, `to_fhir`, `from_fhir`, parse + to_fhir, on the spec's handover and
   escalation examples, in process on one core (bench/handovers/mapping.py).
   And `validated`, what every create checks each resource with, on each resource a
   push and a create store.
2. For each database: a fresh store (`gateway db upgrade`), the real server (`gateway
   serve`, one process, authentication, consent and agreements, and the access log as
   always on), one handover pushed and checked, then plain `POST /fhir/ServiceRequest`
   creates and `POST /api/handovers` pushes in alternating rounds from `--clients`
   connections (bench/handovers/http.py); afterwards the store must hold exactly what
   the 201s said (bench/handovers/stored.py). Then, on another fresh store, the same
   requests one at a time in process, timed and then under cProfile: where each
   request's time goes (bench/handovers/profile.py).

Target (the issue): handovers per second at least half the plain creates per second.
Writes bench/results/<timestamp>-handovers.md and .json. See bench/README.md.

    python -m bench.handovers [--databases sqlite,postgresql] [--seconds 15] [--clients 16]
    python -m bench.handovers --quick                          # a smoke check, ~1.5 min
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from bench.auth import DATASET_SCOPES, SCOPES, BenchAuth, TokenSource, bench_auth, client_id
from bench.handovers.examples import Handovers
from bench.handovers.http import Plan, check_push, measure_http
from bench.handovers.mapping import measure_mapping, measure_validation
from bench.handovers.profile import profile_requests, selected_table
from bench.handovers.report import (
    DatabaseResult,
    HandoverReport,
    http_table,
    mapping_table,
    validation_table,
)
from bench.handovers.stored import check_store
from bench.report import machine, print_written, result_name
from bench.runner import arguments, command_line, database_list, log, stop_on_signals, temp_log
from bench.server import check_authenticates, running_server, upgrade
from bench.stores import add_store_options, fresh_store, server_version

ROUNDS, QUICK_ROUNDS = 5, 2
WARMUP_S, QUICK_WARMUP_S = 2.0, 1.0
REPEATS, QUICK_REPEATS = 7, 3
BATCH_S, QUICK_BATCH_S = 0.5, 0.2
PROFILED, QUICK_PROFILED = 50, 15  # requests of each kind, timed then profiled


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = arguments("bench.handovers", __doc__)
    parser.add_argument("--databases", default="sqlite,postgresql", help="%(default)s")
    parser.add_argument(
        "--seconds",
        type=float,
        default=15.0,
        help=f"measured seconds of each kind, in {ROUNDS} rounds: %(default)s",
    )
    parser.add_argument(
        "--clients", type=int, default=16, help="concurrent connections: %(default)s"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke check: 4 s of each kind in {QUICK_ROUNDS} rounds, shorter mapping",
    )
    add_store_options(parser, seed=20261122, keep="the stores, and the benchmark's configuration")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 4.0
    if args.seconds <= 0 or args.clients < 1:
        parser.error("--seconds and --clients must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    databases = database_list(args.databases)
    started = datetime.now(UTC)
    plan = Plan(
        seconds=args.seconds,
        rounds=QUICK_ROUNDS if args.quick else ROUNDS,
        warmup=QUICK_WARMUP_S if args.quick else WARMUP_S,
        clients=args.clients,
    )
    repeats = QUICK_REPEATS if args.quick else REPEATS
    batch = QUICK_BATCH_S if args.quick else BATCH_S
    report = HandoverReport(
        started=started,
        command=command_line("bench.handovers", argv),
        machine=machine(),
        settings={
            "mapping": f"{repeats} batches of about {batch:g} s per function and example",
            "HTTP": (
                f"one server process; {plan.clients} connections from one httpx.AsyncClient "
                f"in this process; {plan.warmup:g} s warm-up of each kind, then "
                f"{plan.seconds:g} s of each in {plan.rounds} alternating rounds"
            ),
            "authentication": (
                "every request with a bearer token of AZZ's client (bench-azz), scopes "
                f"{' '.join([*SCOPES, *DATASET_SCOPES])}"
            ),
            "sharing": "bench/auth.py's regional agreement (AZZ and RZZ among its parties)",
        },
    )
    name = result_name(started, "handovers", quick=args.quick)
    log(f"mapping in process ({repeats} batches of about {batch:g} s each)")
    report.mapping, report.mapping_core = measure_mapping(repeats=repeats, batch_seconds=batch)
    print(mapping_table(report.mapping), flush=True)
    log("validating each resource in process")
    report.validation = measure_validation(repeats=min(repeats, 5), batch_seconds=batch / 2)
    print(validation_table(report.validation), flush=True)
    report.write(args.results, name)
    with bench_auth(keep=args.keep) as auth:
        for database in databases:
            with fresh_store(database, args.postgres_url, keep=args.keep) as url:
                report.versions[database] = server_version(url)
                report.databases.append(run_database(database, url, plan, auth, name, started))
            print(http_table(report.databases[-1:]), flush=True)
            report.write(args.results, name)
            profiled = QUICK_PROFILED if args.quick else PROFILED
            log(f"{database}: {profiled} requests of each kind in process, then profiled")
            profile = profile_requests(database, args.postgres_url, auth, requests=profiled)
            report.databases[-1].profile = profile
            print(selected_table(profile), flush=True)
            report.write(args.results, name)
    print_written(report.write(args.results, name))
    return 0


def run_database(
    database: str, url: str, plan: Plan, auth: BenchAuth, name: str, started: datetime
) -> DatabaseResult:
    log(f"{database}: migrating with `gateway db upgrade`")
    upgrade(url, auth)
    server_log = temp_log(name, database, "server")
    log(f"{database}: server output goes to {server_log}")
    handovers = Handovers(database, started)
    with running_server(url, server_log, auth) as base:
        check_authenticates(base)
        tokens = TokenSource(base, auth)
        sender = client_id(handovers.sender)

        def bearer(valid_for: float) -> str:
            token = tokens.client_token(sender, [*SCOPES, *DATASET_SCOPES], valid_for=valid_for)
            return f"Bearer {token}"

        created = check_push(base, bearer, handovers)
        log(f"{database}: a handover was stored as {created['resources']}")
        load_average = os.getloadavg()[0]
        log(f"{database}: 1-minute load average before the rounds: {load_average:.2f}")
        results = measure_http(
            base,
            bearer,
            handovers,
            plan,
            first_patient=0 if database == "sqlite" else 500_000,
            log=lambda line: log(f"{database}: {line}"),
        )
    stored = check_store(url, results, handovers.risks, checked=1)
    for problem in stored.problems:
        log(f"{database}: STORE CHECK FAILED: {problem}")
    result = DatabaseResult(database, results, stored, load_average)
    log(f"{database}: handover / create x{result.ratio:.2f}")
    return result


if __name__ == "__main__":
    sys.exit(main())
