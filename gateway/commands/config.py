"""`gateway config check|reload`: the configuration directory, for operators."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.configuration.loader import check_settings, load_config
from gateway.configuration.summary import expiring, load_summary
from gateway.platform.clock import utc_now
from gateway.platform.errors import ConfigurationError
from gateway.platform.private_paths import write_private_text
from gateway.platform.settings import Settings


def config_command(settings: Settings, command: str) -> int:
    # A bad file is a ConfigurationError naming file and field: the CLI prints it, exit 2.
    config = load_config(settings.config_dir)
    check_settings(settings, config)
    print(load_summary(config, "checked"))
    for agreement in expiring(config, utc_now()):
        print(f"warning: agreement {agreement.label} expires on {agreement.valid_to}")
    if command == "check":
        return 0
    pid = _running_pid(settings.pid_file)
    os.kill(pid, signal.SIGHUP)
    print(f"asked gateway process {pid} to reload (its log says config.reloaded when done)")
    return 0


def _running_pid(path: Path) -> int:
    try:
        pid = int(path.read_text(encoding="ascii").strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        raise ConfigurationError(
            f"no running gateway found through {path} (is `gateway serve` running here? "
            "Otherwise send SIGHUP to each gateway process)"
        ) from None
    return pid


@contextmanager
def pid_file(path: Path) -> Iterator[None]:
    """This process's id in `path` while the block runs.

    uvicorn stops gracefully on SIGTERM, restores the handler it found, then raises the
    signal again; the handler here turns that into SystemExit so the file is removed.
    """
    write_private_text(path, f"{os.getpid()}\n")
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        try:
            if path.read_text(encoding="ascii").strip() == str(os.getpid()):
                path.unlink()
        except OSError:
            print(f"gateway: could not remove {path}", file=sys.stderr)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
