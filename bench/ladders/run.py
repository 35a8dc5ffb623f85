"""python -m bench.ladders: escalation deadlines. Does finding the due steps stay flat as
open escalations accumulate, and how soon after its deadline does a step-up reach a
push receiver?

1. Finding the due steps (bench/ladders/due.py), on each database: a fresh store for
   each of `--sizes` open steps (deadlines spread over the future; 20 due whatever the
   size), `StepStore(connection).due(now, 50)` timed `--calls` times on each, in
   interleaved rounds, its plan captured. Flat: the largest size's median within a
   small factor of the smallest's.
2. Step-ups (bench/ladders/stepups.py), on each database: the receiver
   (bench/ladders/receiver.py) in its own process, and the benchmark's configuration
   (bench/auth.py) with a ladder of `--step` steps and RZZ pushing to the receiver
   (bench/ladders/escalations.py). For each of `--polls` (GATEWAY_DEADLINE_POLL_SECONDS;
   5 is the default), on a fresh store (`gateway db upgrade`), a `gateway serve` is
   started and `--escalations` escalations sent at `--rate` per second; each step-up's
   arrival at the receiver minus the deadline it follows. Then the same on fresh stores
   holding `--open-steps` other open steps (none due during the run; VACUUM (ANALYZE)
   on PostgreSQL, nothing on SQLite, as the gateway runs it).

Target (the issue): a step-up at the receiver within 2 s of its deadline, at p99.
Writes bench/results/<timestamp>-ladders.md and raw/<timestamp>-ladders.json. See
bench/README.md, "Escalation deadlines".

    python -m bench.ladders                  # 1k/10k/100k; 250 escalations a run, ~20 min
    python -m bench.ladders --quick          # a smoke check, ~5 min
    python -m bench.ladders --only due --sizes 1000,10000,100000,1000000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from bench.auth import DATASET_SCOPES, SCOPES, BenchAuth, TokenSource, bench_auth, client_id
from bench.ladders.due import measure_due
from bench.ladders.escalations import Escalations, configure
from bench.ladders.report import LaddersReport, due_table, late_table, parts_table
from bench.ladders.steps import MOST_STEPS, Filler, analyze, count_open, insert_steps
from bench.ladders.stepups import StepUpRun, run_step_ups
from bench.outbox.processes import ReceiverProcess, running_receiver
from bench.report import machine, print_written, result_name
from bench.runner import arguments, command_line, database_list, log, stop_on_signals, temp_log
from bench.server import check_authenticates, running_server, upgrade
from bench.stores import add_store_options, fresh_store, server_version
from gateway.platform.database import Database
from gateway.platform.settings import Settings

SIZES, QUICK_SIZES = "1000,10000,100000", "1000,3000,10000"
CALLS, QUICK_CALLS = 2000, 500
WARMUP = 100  # calls before each round's timed ones
ROUNDS = 5  # the sizes interleaved
ESCALATIONS, QUICK_ESCALATIONS = 250, 30
OPEN_STEPS, QUICK_OPEN_STEPS = 100_000, 10_000
# The filler's deadlines in the step-up runs start this far ahead: none falls due while
# the runs on that store last.
HORIZON = timedelta(hours=1)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = arguments("bench.ladders", __doc__)
    parser.add_argument("--databases", default="sqlite,postgresql", help="%(default)s")
    parser.add_argument("--only", choices=("due", "step-ups"), help="one of the two parts")
    parser.add_argument("--sizes", default=None, help=f"open steps: {SIZES} ({QUICK_SIZES})")
    parser.add_argument("--calls", type=int, default=None, help=f"per size: {CALLS}")
    parser.add_argument("--polls", default="5,1", help="deadline poll seconds: %(default)s")
    parser.add_argument("--step", default="PT3S", help="every ladder step: %(default)s")
    parser.add_argument("--escalations", type=int, default=None, help=f"per run: {ESCALATIONS}")
    parser.add_argument("--rate", type=float, default=2.0, help="escalations/s: %(default)s")
    parser.add_argument(
        "--open-steps", type=int, default=None, help=f"the second runs' filler: {OPEN_STEPS:,}"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke check: small and short")
    add_store_options(parser, seed=20261207, keep="the stores and the configuration")
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = args.sizes or (QUICK_SIZES if quick else SIZES)
    args.sizes = [int(size) for size in sizes.split(",")]
    args.calls = args.calls or (QUICK_CALLS if quick else CALLS)
    args.escalations = args.escalations or (QUICK_ESCALATIONS if quick else ESCALATIONS)
    if args.open_steps is None:
        args.open_steps = QUICK_OPEN_STEPS if quick else OPEN_STEPS
    args.polls = [float(poll) for poll in args.polls.split(",")]
    if min(args.sizes) < 100 or max([*args.sizes, args.open_steps]) > MOST_STEPS:
        parser.error(f"--sizes and --open-steps: at least 100 and at most {MOST_STEPS:,}")
    if args.rate <= 0 or args.escalations < 1:
        parser.error("--rate and --escalations must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    databases = database_list(args.databases)
    started = datetime.now(UTC)
    report = LaddersReport(
        started=started,
        command=command_line("bench.ladders", argv),
        machine=machine(),
        settings={
            "due": (
                f"open steps {', '.join(f'{size:,}' for size in args.sizes)}; "
                f"a store per size; {args.calls:,} timed calls per size, in {ROUNDS} "
                f"interleaved rounds, each after {WARMUP} untimed"
            ),
            "step-ups": (
                f"{args.escalations:,} escalations per run at {args.rate:g}/s (Poisson); "
                f"ladder {args.step} a step; GATEWAY_DEADLINE_POLL_SECONDS "
                f"{', '.join(f'{poll:g}' for poll in args.polls)} (default "
                f"{Settings.model_fields['deadline_poll_seconds'].default:g}); "
                f"then with {args.open_steps:,} other open steps; each run on a fresh store"
            ),
            "server": "`gateway serve`, one process (HTTP, the deadline watcher and the "
            "delivery worker); authentication, consent, agreements and the access log on",
            "receiver": "bench/ladders/receiver.py (bench/outbox's), its own process",
        },
    )
    name = result_name(started, "ladders", quick=args.quick)
    if args.only in (None, "due"):
        for database in databases:
            report.versions[database] = server_version(
                args.postgres_url if database == "postgresql" else "sqlite://"
            )
            log(f"{database}: finding due steps at {', '.join(f'{n:,}' for n in args.sizes)}")
            report.due += measure_due(
                database,
                partial(fresh_store, database, args.postgres_url, keep=args.keep),
                args.sizes,
                now=datetime.now(UTC),
                seed=args.seed,
                calls=args.calls,
                rounds=ROUNDS,
                warmup=WARMUP,
                log=log,
            )
            report.write(args.results, name)
        print(due_table(report.due), flush=True)
    if args.only in (None, "step-ups"):
        temp = Path(tempfile.mkdtemp(prefix="gwbench-ladders-"))
        try:
            with (
                bench_auth(keep=args.keep) as auth,
                running_receiver(temp / "receiver.log", "bench.ladders.receiver") as receiver,
            ):
                configure(auth.config_dir, receiver.fhir, args.step)
                for database in databases:
                    step_ups(args, report, database, auth, receiver, name)
        finally:
            if args.keep:
                log(f"kept {temp}")
            else:
                shutil.rmtree(temp, ignore_errors=True)
        print(late_table(report.step_ups), flush=True)
        print(parts_table(report.step_ups), flush=True)
    print_written(report.write(args.results, name))
    return 1 if any(not run.ok for run in report.step_ups) else 0


def step_ups(
    args: argparse.Namespace,
    report: LaddersReport,
    database: str,
    auth: BenchAuth,
    receiver: ReceiverProcess,
    name: str,
) -> None:
    """One run per number of other open steps (none, then `--open-steps`) and poll, each
    on a store of its own: the store's history (every escalation a run leaves behind) is
    the same at the start of each, and so are the arrival times (one seed)."""
    server_log = temp_log(name, database, "server")
    log(f"{database}: server output goes to {server_log}")
    for open_steps in (0, args.open_steps):
        for poll in args.polls:
            with fresh_store(database, args.postgres_url, keep=args.keep) as url:
                report.versions[database] = server_version(url)
                upgrade(url, auth)
                store = Database(url, pool_size=2)
                try:
                    fill(store, url, database, open_steps, args.seed)
                    result = StepUpRun(
                        database=database,
                        poll_seconds=poll,
                        step=args.step,
                        open_before=count_open(store),
                        rate=args.rate,
                        planned=args.escalations,
                        sent_seconds=0.0,
                        created=0,
                    )
                    env = {"GATEWAY_DEADLINE_POLL_SECONDS": f"{poll:g}"}
                    with running_server(url, server_log, auth, extra_env=env) as base:
                        check_authenticates(base)
                        tokens = TokenSource(base, auth)

                        def bearer(valid_for: float, tokens: TokenSource = tokens) -> str:
                            scopes = [*SCOPES, *DATASET_SCOPES]
                            token = tokens.client_token(
                                client_id("AZZ"), scopes, valid_for=valid_for
                            )
                            return f"Bearer {token}"

                        log(
                            f"{database}: poll {poll:g} s, {result.open_before:,} open steps: "
                            f"{args.escalations:,} escalations at {args.rate:g}/s"
                        )
                        run_step_ups(
                            base,
                            bearer,
                            store,
                            receiver,
                            Escalations(database, datetime.now(UTC)),
                            result,
                            seed=args.seed,
                            settle_timeout=60 + 3 * (poll + 30),
                            log=log,
                        )
                finally:
                    store.dispose()
            report.step_ups.append(result)
            report.write(args.results, name)


def fill(store: Database, url: str, database: str, open_steps: int, seed: int) -> None:
    """`open_steps` other open steps, none due for an hour (bench/ladders/steps.py)."""
    if not open_steps:
        return
    began = datetime.now(UTC)
    insert_steps(store, Filler(began, seed, horizon=HORIZON).rows(0, open_steps))
    if database == "postgresql":
        # What autovacuum would soon do. Not on SQLite: the gateway never runs ANALYZE
        # there, and statistics taken on a store whose outbox holds only delivered rows
        # turn the delivery worker's claim into a scan of the outbox (see
        # bench/README.md, "Escalation deadlines").
        analyze(store, url)
    seconds = (datetime.now(UTC) - began).total_seconds()
    log(f"{database}: {open_steps:,} open steps added in {seconds:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
