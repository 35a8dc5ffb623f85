"""`gateway config check|reload`: the configuration directory, for operators.

`reload` checks the directory here, then asks every `gateway serve` and `gateway worker`
process sharing the store to reload from its own (gateway.configuration.cluster): one
command for a deployment of many processes on many hosts."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.configuration.cluster import request_reload
from gateway.configuration.loader import check_settings, load_config
from gateway.configuration.summary import expiring, load_summary
from gateway.platform import migrate
from gateway.platform.clock import utc_now
from gateway.platform.database import Database
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
    database = Database(settings.database_url)
    try:
        if not migrate.is_current(database):
            raise ConfigurationError(
                "the database schema is not current: run `gateway db upgrade` first"
            )
        seq = request_reload(database, settings.config_dir, "gateway config reload")
    finally:
        database.dispose()
    print(
        f"asked every gateway process on this store to reload (request {seq}); each "
        "reloads from its own directory within GATEWAY_CONFIG_POLL_SECONDS, and its log "
        "says config.reloaded (or config.reload_refused)"
    )
    return 0


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
