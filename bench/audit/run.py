"""Benchmark the tamper-evident access log. See bench/README.md ("The access log").

1. Append cost per request: creates and reads on fresh stores by the code before the
   access log (a git worktree) and by this code, same run, same load (PostgreSQL, SQLite).
2. `audit verify` rate on one core: from the database and from an export.
3. Inclusion and consistency proof latency, in process, at the loaded size.
4. AuditEvent search latency over HTTP (by patient; one-hour and one-day windows), with
   the query plans.

The log for 2-4 is grown by a bulk loader (bench/audit/load.py) whose rows are proven
equal to the gateway's own (bench/audit/check.py) before anything is measured.

    python -m bench.audit                    # 10M events on PostgreSQL, 1M on SQLite
    python -m bench.audit --quick            # 100k and 20k: a smoke run of a few minutes
    python -m bench.audit --events 3000000 --sqlite-events 0 --no-append
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import select

from bench.audit.append import DEFAULT_REF, audit_counts, measure_append_cost
from bench.audit.check import check_loader_tables
from bench.audit.events import Events
from bench.audit.load import load_log
from bench.audit.proofs import measure_proofs
from bench.audit.report import AuditReport, StoreResult
from bench.audit.search import by_patient, by_window, captured_plans, measure_search, search_plans
from bench.audit.verifyrate import (
    export_and_time,
    synthetic_export,
    verify_database_rate,
    verify_export_rate,
)
from bench.auth import IG_LEAD, IG_SCOPES, BenchAuth, TokenSource, bench_auth
from bench.baseline import foundation
from bench.creates import CLIENTS, create_load
from bench.report import machine, print_written, result_name
from bench.runner import (
    arguments,
    command_line,
    create_warmup,
    database_list,
    log,
    stop_on_signals,
    temp_log,
)
from bench.server import Servers, check_authenticates, running_server
from bench.stores import add_store_options, fresh_store, server_version
from gateway.access_log import proofs
from gateway.access_log.keys import AuditSigningKey, load_audit_signing_key
from gateway.configuration.loader import load_config
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.runtime import audit_log_origin
from gateway.platform.schema import audit_events

SYNTHETIC_EVENTS = 1_000_000  # lines of the synthetic export (200,000 with --quick)
SYNTHETIC_BYTES = 1024


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = arguments("bench.audit", __doc__)
    parser.add_argument("--events", type=int, default=10_000_000, help="PostgreSQL log size")
    parser.add_argument(
        "--sqlite-events", type=int, default=1_000_000, help="SQLite log size (0: none)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer requests")
    parser.add_argument(
        "--databases", default="postgresql,sqlite", help="for the append cost (figure 1)"
    )
    parser.add_argument("--no-append", action="store_true", help="skip the append cost")
    parser.add_argument(
        "--append-rounds",
        type=int,
        default=2,
        help="append cost: without, with, without, with... on fresh stores each time",
    )
    parser.add_argument("--no-export", action="store_true", help="skip the export verify")
    parser.add_argument("--checkpoint-every", type=int, default=100_000, help="loaded events")
    parser.add_argument("--span-days", type=float, default=365.0, help="the loaded timeline")
    parser.add_argument("--requests", type=int, default=500, help="searches per query")
    parser.add_argument("--warmup", type=int, default=50, help="searches before measuring")
    parser.add_argument(
        "--extra-requests", type=int, default=20, help="requests of each other IG search"
    )
    parser.add_argument("--proofs", type=int, default=1000, help="proofs of each kind")
    parser.add_argument("--proof-warmup", type=int, default=100)
    parser.add_argument(
        "--check-events",
        type=int,
        default=70_000,
        help="events written by loader and gateway alike and compared (PostgreSQL); "
        "over 65,536 covers a level-16 node",
    )
    parser.add_argument("--sqlite-check-events", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=32, help="connections for wrk")
    parser.add_argument("--create-seconds", type=float, default=10.0)
    parser.add_argument("--create-client", choices=CLIENTS, default="wrk")
    parser.add_argument("--baseline-ref", default=DEFAULT_REF)
    add_store_options(parser, seed=20261130, keep="the stores")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.sqlite_events = 100_000, 20_000
        args.checkpoint_every = 10_000
        args.requests, args.warmup, args.extra_requests = 100, 20, 10
        args.proofs, args.proof_warmup = 200, 20
        args.check_events, args.sqlite_check_events = 3_000, 3_000
        args.create_seconds, args.append_rounds = 3.0, 1
    args.create_warmup = create_warmup(args.create_seconds)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    started = datetime.now(UTC)
    with bench_auth(keep=args.keep, ig_lead=True) as auth:
        origin = audit_log_origin(load_config(auth.config_dir))
        # Made before any server starts, so every server signs with it too.
        key = load_audit_signing_key(auth.audit_signing_key, name=origin, generate_if_missing=True)
        return run(args, started, auth, key)


def run(args: argparse.Namespace, started: datetime, auth: BenchAuth, key: AuditSigningKey) -> int:
    databases = database_list(args.databases)
    creates = create_load(args.create_client, args.clients)
    report = AuditReport(
        started=started,
        command=command_line("bench.audit", None),
        machine=machine(),
        settings={
            "log sizes": f"PostgreSQL {args.events:,}, SQLite {args.sqlite_events:,} events",
            "loaded timeline": f"{args.span_days:g} days, ending an hour before the run",
            "checkpoints loaded": f"every {args.checkpoint_every:,} events and at the end",
            "append cost": (
                f"{creates.describe()}; {args.create_seconds:g} s measured after a "
                f"{args.create_warmup:g} s warm-up, baseline {args.baseline_ref}, "
                f"{args.append_rounds} round(s) per database"
            ),
            "searches": f"{args.requests} per query after {args.warmup} of warm-up",
            "proofs": f"{args.proofs} of each kind after {args.proof_warmup} of warm-up",
            "seed": args.seed,
        },
        versions={
            "postgresql": server_version(args.postgres_url),
            "sqlite": server_version("sqlite://"),
        },
    )
    name = result_name(started, "audit", quick=args.quick)
    server_log = temp_log(name, "server")
    log(f"server output goes to {server_log}")

    servers = Servers(args.postgres_url, auth, server_log, args.keep)
    if not args.no_append:
        with foundation(args.baseline_ref) as baseline:
            for database in databases:
                for round_ in range(1, args.append_rounds + 1):
                    log(
                        f"{database}: round {round_}: creates and reads without the access "
                        f"log ({baseline.code.label}), then with it"
                    )
                    cost = measure_append_cost(
                        database,
                        servers,
                        baseline,
                        creates,
                        seconds=args.create_seconds,
                        warmup=args.create_warmup,
                        round_=round_,
                    )
                    report.append.append(cost)
                    log(
                        f"{database}: creates x{cost.create_ratio:.2f} "
                        f"({cost.without_log.creates.per_second:,.0f}/s -> "
                        f"{cost.with_log.creates.per_second:,.0f}/s), reads "
                        f"x{cost.read_ratio:.2f} ({cost.without_log.reads.per_second:,.0f}/s -> "
                        f"{cost.with_log.reads.per_second:,.0f}/s)"
                    )
                    report.write(args.results, name)

    stores = [("postgresql", args.events), ("sqlite", args.sqlite_events)]
    checks = {"postgresql": args.check_events, "sqlite": args.sqlite_check_events}
    for database, events in stores:
        if events <= 0 or checks[database] <= 0:
            continue
        log(f"{database}: loader against the gateway's own append and sequencer")
        check = check_loader_tables(
            database,
            partial(fresh_store, database, args.postgres_url),
            key,
            events=checks[database],
            checkpoint_every=max(1, checks[database] // 7),
            seed=args.seed + 7,
            log=log,
        )
        report.checks.append(check)
        log(f"{database}: identical rows in {check.rows_compared}")
        report.write(args.results, name)

    for database, events in stores:
        if events > 0:
            measure_store(database, events, args, auth, key, report, name, server_log)
    path = report.write(args.results, name)
    print(report.markdown())
    print_written(path)
    return 0


def measure_store(
    database: str,
    events: int,
    args: argparse.Namespace,
    auth: BenchAuth,
    key: AuditSigningKey,
    report: AuditReport,
    name: str,
    server_log: Path,
) -> None:
    with fresh_store(database, args.postgres_url, keep=args.keep) as url:
        migrated = Database(url)
        migrate.upgrade(migrated)
        migrated.dispose()
        end = datetime.now(UTC) - timedelta(hours=1)
        generated = Events(args.seed, events, end, timedelta(days=args.span_days))
        log(f"{database}: loading {events:,} events")
        stats = load_log(url, generated, key, checkpoint_every=args.checkpoint_every, log=log)
        log(
            f"{database}: loaded in {stats.seconds:,.0f} s ({stats.per_second:,.0f}/s), "
            f"indexes {stats.index_seconds:,.0f} s, analyze {stats.analyze_seconds:,.0f} s"
        )
        store = StoreResult(database, events, stats)
        report.stores.append(store)
        report.write(args.results, name)

        if database == "postgresql":
            log(f"{database}: verify_database on one core")
            rate = verify_database_rate(url, auth.audit_signing_key, key.name)
            store.verify.append(rate)
            report.write(args.results, name)
            if not rate.ok or rate.events != events:
                raise AssertionError(f"the loaded log does not verify: {rate}")
            log(f"{database}: verified {rate.events:,} events, {rate.per_second:,.0f}/s")
            log(f"{database}: proofs")
            store.proofs = list(
                measure_proofs(url, count=args.proofs, warmup=args.proof_warmup, seed=args.seed)
            )
            store.proof_plans = proof_plans(url, events, args.seed)
            for proof in store.proofs:
                log(f"{database}: {proof.kind} p50 {proof.p50_ms:.2f} ms, p99 {proof.p99_ms:.2f}")
            report.write(args.results, name)

        queries = {
            "patient=<NHS number>": by_patient(generated.patient_sample),
            "date=ge<t>&date=lt<t+1h>": by_window(generated.start, end, timedelta(hours=1)),
            "date=ge<t>&date=lt<t+1d>": by_window(generated.start, end, timedelta(days=1)),
        }
        with running_server(url, server_log, auth) as base:
            check_authenticates(base)
            tokens = TokenSource(base, auth)
            tokens.client_token(IG_LEAD, IG_SCOPES)  # before the clock starts
            for number, (label, make) in enumerate(queries.items()):
                log(f"{database}: searching {label}")
                result = measure_search(
                    base,
                    tokens,
                    label,
                    make,
                    requests=args.requests,
                    warmup=args.warmup,
                    seed=args.seed + number,
                )
                store.searches.append(result)
                log(f"{database}: p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms")
            # Other IG searches, not among the targets: a few requests each.
            extras = {
                "entity=ServiceRequest/<id>": _one_of("entity", generated.entity_sample),
                "agent=<client id>": _one_of("agent", [f"bench-b{n:04d}" for n in range(1, 201)]),
            }
            for number, (label, make) in enumerate(extras.items()):
                log(f"{database}: searching {label} (not a target)")
                store.extra_searches.append(
                    measure_search(
                        base,
                        tokens,
                        label,
                        make,
                        requests=args.extra_requests,
                        warmup=5,
                        seed=args.seed + 10 + number,
                    )
                )
        counts = audit_counts(url)
        store.after_server = dict(zip(("events", "sequenced", "checkpoints"), counts, strict=True))
        rng = random.Random(args.seed)
        # The rare agent (an end user's practitioner id, in one event) is explained only:
        # see the plan for why it is not timed at scale.
        explained = {
            **queries,
            **extras,
            "agent=<practitioner id> (one event; explained, not timed)": _one_of(
                "agent", generated.practitioner_sample
            ),
        }
        log(f"{database}: explaining the searches")
        store.search_plans = {
            label: search_plans(url, make(rng)) for label, make in explained.items()
        }
        report.write(args.results, name)

        if database == "postgresql" and not args.no_export:
            verify_exports(url, key, store, args)
            report.write(args.results, name)


def verify_exports(
    url: str, key: AuditSigningKey, store: StoreResult, args: argparse.Namespace
) -> None:
    directory = Path(tempfile.mkdtemp(prefix="gwbench-audit-export-"))
    try:
        log("postgresql: exporting")
        store.exported, store.export_seconds = export_and_time(url, key, directory / "export")
        exported = store.exported
        log(f"postgresql: exported {exported:,} events in {store.export_seconds:,.0f} s")
        rate = verify_export_rate(
            directory / "export", "export (python -m gateway.access_log.verify)"
        )
        store.verify.append(rate)
        if not rate.ok:
            raise AssertionError(f"the export does not verify: {rate}")
        log(f"postgresql: export verified, {rate.per_second:,.0f} events/s")
        shutil.rmtree(directory / "export")
        lines = SYNTHETIC_EVENTS // 5 if args.quick else SYNTHETIC_EVENTS
        synthetic_export(directory / "synthetic", key, lines, SYNTHETIC_BYTES)
        store.verify.append(
            verify_export_rate(
                directory / "synthetic",
                f"synthetic export, {SYNTHETIC_BYTES:,}-byte lines (the size the target assumed)",
            )
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def proof_plans(url: str, events: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    position = rng.randrange(events)
    database = Database(url)
    try:
        with database.read() as connection:
            event_id = connection.execute(
                select(audit_events.c.event_id).where(audit_events.c.position == position)
            ).scalar_one()
            sizes = [
                checkpoint.checkpoint.tree_size for checkpoint in proofs.checkpoints(connection)
            ]
    finally:
        database.dispose()
    first, second = sizes[len(sizes) // 3], sizes[-1]
    return {
        f"inclusion_proof (position {position:,})": captured_plans(
            url, lambda connection: proofs.inclusion_proof(connection, event_id)
        ),
        f"consistency_proof ({first:,} -> {second:,})": captured_plans(
            url, lambda connection: proofs.consistency_proof(connection, first, second)
        ),
    }


def _one_of(name: str, values: Sequence[str]) -> Callable[[random.Random], list[tuple[str, str]]]:
    if not values:
        raise RuntimeError(f"no values to search {name} by")
    return lambda rng: [(name, values[rng.randrange(len(values))])]


if __name__ == "__main__":
    sys.exit(main())
