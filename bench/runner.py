"""What every benchmark's command line shares: its progress log, stopping cleanly on a
signal, the databases asked for, the command as the report records it, and where the
servers' output goes."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.stores import DATABASES


def arguments(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The command line of `python -m <module>`, its help the module's docstring as written."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def log(line: str) -> None:
    """A progress line on the terminal's stderr, timed. (sys.__stderr__: a benchmark may
    send the gateway's own logging, on sys.stderr, to a file.)"""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {line}", file=sys.__stderr__, flush=True)


def stop_on_signals() -> None:
    """SIGTERM, and SIGINT (which background jobs ignore), unwind the run like Ctrl-C, so
    servers are stopped and PostgreSQL databases dropped on the way out."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def database_list(option: str) -> list[str]:
    """`--databases`, comma-separated, each one of DATABASES."""
    databases = [name.strip() for name in option.split(",") if name.strip()]
    unknown = set(databases) - set(DATABASES)
    if unknown:
        raise SystemExit(f"--databases: unknown {', '.join(sorted(unknown))}")
    return databases


def command_line(module: str, argv: Sequence[str] | None) -> str:
    """`python -m <module> <arguments>`, as the report records what was run."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    return f"python -m {module} {shlex.join(arguments)}".strip()


def temp_log(name: str, *parts: str) -> Path:
    """Where a run's servers write their output: `<name>-<parts>.log` in the temporary
    directory."""
    return Path(tempfile.gettempdir()) / f"{'-'.join((name, *parts))}.log"


def create_warmup(seconds: float) -> float:
    """The creates' warm-up: 2 s, discarded (less in a run shorter than 6 s)."""
    return min(2.0, seconds / 3)
