"""python -m bench.outbox: how fast delivery workers drain the outbox to a healthy
receiver on loopback, and how long a delivery takes from enqueue to delivered.

1. A fresh PostgreSQL database (`gwbench_<random>`, migrated with
   gateway.platform.migrate.upgrade, dropped at the end); the receiver
   (bench/outbox/receiver.py) in a process of its own; a copy of config/demo whose RZZ
   endpoint pushes to it.
2. Drain (bench/outbox/measure.py): `--deliveries` handover messages (about 13 KB each,
   a patient each) queued at once, drained by `gateway worker` processes: one process
   with --workers 1, two processes with --workers 1 each, one process with --workers 2.
   Deliveries per second, CPU per delivery, and every delivery stored exactly once.
   Then, as a diagnostic, one process with --workers 1 whose database pool holds a
   whole batch's connections (bench/outbox/variant.py --pool-size).
3. Latency: one `gateway worker --workers 1` idling, `--rate` deliveries per second for
   `--seconds`; enqueue-to-delivered p50/p95/p99 from the outbox rows. Then the same
   with the worker's poll interval at `--fast-poll` (bench/outbox/variant.py), for
   comparison (NOTIFY wakes the shipped worker, so the poll matters little). Then the
   shipped worker at
   `--overload-rate`, about what one worker drains on this machine.
4. SQLite (unless `--databases postgresql`): one worker draining `--sqlite-deliveries`.
5. Where the time goes (bench/outbox/profile.py): a DeliveryWorker in process under
   cProfile, on PostgreSQL.

Targets (the issue): at least 500 deliveries/s per worker, p99 under 100 ms end to end
with a healthy receiver. Writes bench/results/<timestamp>-outbox.md and .json.

    python -m bench.outbox                     # the measurement, about 5 minutes
    python -m bench.outbox --quick             # a smoke check, about 1.5 minutes
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.outbox.measure import drain, latency
from bench.outbox.processes import (
    CONCURRENCY,
    ReceiverProcess,
    WorkerLayout,
    push_config,
    running_receiver,
    worker_env,
)
from bench.outbox.profile import profile_worker, selected_table
from bench.outbox.report import OutboxReport, cpu_table, drain_table, latency_table
from bench.report import machine, print_written, result_name
from bench.runner import arguments, command_line, database_list, log, stop_on_signals
from bench.stores import add_store_options, fresh_store, server_version
from gateway.exchange.worker import WorkerSettings
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.logging import configure_logging

LAYOUTS = (WorkerLayout(1, 1), WorkerLayout(2, 1), WorkerLayout(1, 2))
DIAGNOSTIC_POOL = 40  # more than a batch (32) of concurrent transactions, and the claim


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = arguments("bench.outbox", __doc__)
    parser.add_argument("--databases", default="postgresql,sqlite", help="%(default)s")
    parser.add_argument("--deliveries", type=int, default=1500, help="per drain: %(default)s")
    parser.add_argument("--sqlite-deliveries", type=int, default=1000, help="%(default)s")
    parser.add_argument("--rate", type=float, default=20.0, help="latency: per s, %(default)s")
    parser.add_argument(
        "--overload-rate",
        type=float,
        default=50.0,
        help="latency, the shipped worker only, at a rate near what it drains (0: skip)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="latency: %(default)s")
    parser.add_argument(
        "--fast-poll", type=float, default=0.02, help="the comparison's poll interval (s)"
    )
    parser.add_argument("--profile-deliveries", type=int, default=320, help="%(default)s")
    parser.add_argument("--no-diagnostics", action="store_true", help="the shipped worker only")
    parser.add_argument("--quick", action="store_true", help="a smoke check: small and short")
    add_store_options(parser, seed=20261130, keep="the PostgreSQL database and the temp dir")
    args = parser.parse_args(argv)
    if args.quick:
        args.deliveries, args.sqlite_deliveries = 400, 200
        args.seconds, args.profile_deliveries = 5.0, 96
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    databases = database_list(args.databases)
    if "postgresql" not in databases:
        raise SystemExit("--databases must include postgresql (the issue's measurement)")
    started = datetime.now(UTC)
    shipped = WorkerSettings()
    report = OutboxReport(
        started=started,
        command=command_line("bench.outbox", argv),
        machine=machine(),
        settings={
            "message": "the handover example's BaRS message (bench/outbox/deliveries.py)",
            "receiver": "bench/outbox/receiver.py: bare ASGI under uvicorn, its own process",
            "endpoint": f"RZZ push to the receiver, concurrency {CONCURRENCY}, default retry",
            "worker": (
                f"`python -m gateway.commands.cli worker`; WorkerSettings batch {shipped.batch}, "
                f"poll interval {shipped.poll_interval:g} s, lease "
                f"{shipped.lease.total_seconds():g} s; JSON logs at info to a file"
            ),
            "drain": f"{args.deliveries:,} deliveries per PostgreSQL drain",
            "latency": (
                f"{args.rate:g} deliveries/s for {args.seconds:g} s"
                + (f", then {args.overload_rate:g}/s" if args.overload_rate else "")
            ),
        },
    )
    name = result_name(started, "outbox", quick=args.quick)
    temp = Path(tempfile.mkdtemp(prefix="gwbench-outbox-"))
    log(f"logs and configuration in {temp}")
    patients = iter(range(0, 1_000_000, 100_000))  # each run's patients apart (10 at most)
    try:
        with running_receiver(temp / "receiver.log") as receiver:
            config = push_config(temp, receiver.fhir)
            with fresh_store("postgresql", args.postgres_url, keep=args.keep) as url:
                database = Database(url, pool_size=2)
                try:
                    migrate.upgrade(database)
                    report.versions["postgresql"] = server_version(url)
                    env = worker_env(url, config, temp)
                    run_postgresql(args, report, database, receiver, env, temp, patients, name)
                    log(f"profile: {args.profile_deliveries} deliveries in process")
                    with _logs_to(temp / "profile.log"):
                        report.profile = profile_worker(
                            database,
                            receiver,
                            config,
                            deliveries=args.profile_deliveries,
                            first_patient=next(patients),
                            log=log,
                        )
                    report.profile_database = "PostgreSQL"
                    print(selected_table(report.profile), flush=True)
                finally:
                    database.dispose()
            report.write(args.results, name)
            if "sqlite" in databases:
                with fresh_store("sqlite", args.postgres_url, keep=args.keep) as url:
                    database = Database(url, pool_size=2)
                    try:
                        migrate.upgrade(database)
                        report.versions["sqlite"] = server_version(url)
                        result = drain(
                            database,
                            receiver,
                            WorkerLayout(1, 1),
                            worker_env(url, config, temp),
                            temp,
                            name="sqlite-1x1",
                            count=args.sqlite_deliveries,
                            first_patient=next(patients),
                            log=log,
                        )
                        report.drains.append(result)
                    finally:
                        database.dispose()
    finally:
        if args.keep:
            log(f"kept {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)
    path = report.write(args.results, name)
    print(drain_table(report.drains + report.diagnostic_drains), flush=True)
    print(cpu_table(report.drains + report.diagnostic_drains), flush=True)
    print(latency_table(report.latencies), flush=True)
    print_written(path)
    failed = [d for d in report.drains + report.diagnostic_drains if not d.ok]
    return 1 if failed or any(not r.ok for r in report.latencies) else 0


def run_postgresql(
    args: argparse.Namespace,
    report: OutboxReport,
    database: Database,
    receiver: ReceiverProcess,
    env: dict[str, str],
    temp: Path,
    patients: Iterator[int],
    name: str,
) -> None:
    for layout in LAYOUTS:
        label = f"postgresql-{layout.processes}x{layout.workers}"
        log(f"{label}: drain of {args.deliveries:,} by {layout.label}")
        report.drains.append(
            drain(
                database,
                receiver,
                layout,
                env,
                temp,
                name=label,
                count=args.deliveries,
                first_patient=next(patients),
                log=log,
            )
        )
        report.write(args.results, name)
    if not args.no_diagnostics:
        layout = WorkerLayout(1, 1)
        log(f"diagnostic drain: pool_size {DIAGNOSTIC_POOL} (bench/outbox/variant.py)")
        result = drain(
            database,
            receiver,
            layout,
            env,
            temp,
            name="postgresql-pool",
            count=args.deliveries,
            first_patient=next(patients),
            log=log,
            command=[
                *(sys.executable, "-m", "bench.outbox.variant"),
                *("--pool-size", str(DIAGNOSTIC_POOL)),
            ],
        )
        result.layout = f"{layout.label}, pool_size {DIAGNOSTIC_POOL} (diagnostic)"
        report.diagnostic_drains.append(result)
        report.write(args.results, name)
    shipped = WorkerSettings().poll_interval
    variants: list[tuple[float, float, list[str] | None]] = [(args.rate, shipped, None)]
    if not args.no_diagnostics:
        fast = [
            sys.executable,
            "-m",
            "bench.outbox.variant",
            "--poll-interval",
            f"{args.fast_poll}",
        ]
        variants.append((args.rate, args.fast_poll, fast))
    if args.overload_rate:
        variants.append((args.overload_rate, shipped, None))
    for rate, poll_interval, command in variants:
        log(f"latency: {rate:g}/s for {args.seconds:g} s, poll interval {poll_interval:g} s")
        timed = latency(
            database,
            receiver,
            WorkerLayout(1, 1),
            env,
            temp,
            name=f"latency-{rate:g}-poll-{poll_interval:g}",
            rate=rate,
            seconds=args.seconds,
            first_patient=next(patients),
            poll_interval=poll_interval,
            command=command,
            log=log,
        )
        if command is not None:
            timed.layout += f", poll interval {poll_interval:g} s (diagnostic)"
        report.latencies.append(timed)
        report.write(args.results, name)


@contextlib.contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """The gateway's logging (JSON, info, as the workers log) into `path`, not here."""
    with path.open("w") as file, contextlib.redirect_stderr(file):
        configure_logging("json", "info")
        yield


if __name__ == "__main__":
    sys.exit(main())
