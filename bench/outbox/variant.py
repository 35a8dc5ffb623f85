"""`gateway worker` with one of two things changed that no setting reaches: the
diagnostic runs' worker (bench/outbox/run.py's comparisons).

- `--poll-interval`: WorkerSettings.poll_interval (0.2 s: how long an idle
  DeliveryWorker waits before it claims again) is not a setting an operator can change
  (WorkerSettings.from_settings sets the lease only); here `from_settings` answers the
  same settings with this poll interval.
- `--pool-size`: `worker_command` opens its Database with pool_size=max(workers, 2)
  (and SQLAlchemy's max_overflow 20), while each worker's round runs up to a batch (32)
  of consent re-checks and outcome writes at once, each in a transaction of its own;
  here the Database gets this pool_size instead.

Everything else is the command's own code, `worker_command` as `gateway worker` calls
it; nothing in gateway/ is edited.

    python -m bench.outbox.variant --poll-interval 0.02 --workers 1
    python -m bench.outbox.variant --pool-size 40 --workers 1
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any
from unittest import mock

import gateway.commands.worker
from gateway.commands.worker import worker_command
from gateway.exchange.worker import WorkerSettings
from gateway.platform.database import Database
from gateway.platform.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox.variant", description=__doc__)
    parser.add_argument("--poll-interval", type=float, default=None)
    parser.add_argument("--pool-size", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    with ExitStack() as patches:
        if args.poll_interval is not None:
            shipped = WorkerSettings.from_settings

            def from_settings(_cls: type[WorkerSettings], settings: Settings) -> WorkerSettings:
                return dataclasses.replace(shipped(settings), poll_interval=args.poll_interval)

            patches.enter_context(
                mock.patch.object(WorkerSettings, "from_settings", classmethod(from_settings))
            )
        if args.pool_size is not None:

            def database(url: str, **options: Any) -> Database:
                return Database(url, **{**options, "pool_size": args.pool_size})

            patches.enter_context(mock.patch.object(gateway.commands.worker, "Database", database))
        return worker_command(Settings(), max(args.workers, 1))


if __name__ == "__main__":
    sys.exit(main())
