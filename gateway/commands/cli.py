"""The `gateway` command for operators: serve, get a token, manage the database schema,
back up the store, verify and export the access log.

Each subcommand's module is imported only when that command runs: `gateway token` or
`gateway audit verify` starts without loading the web server, the FHIR models or the
migrations they do not use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.platform.errors import ConfigurationError
from gateway.platform.log_exceptions import install_process_hooks
from gateway.platform.settings import Settings


def run() -> None:
    """The `gateway` command as a process: the interpreter's own reports (uncaught
    exceptions, warnings) go through the log's redaction too."""
    install_process_hooks()
    sys.exit(main())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (FHIR at /fhir)")
    serve.add_argument("--host", help="interface to bind (default GATEWAY_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default GATEWAY_PORT or 8080)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics on this port of their own (default GATEWAY_METRICS_PORT)",
    )

    worker = commands.add_parser(
        "worker", help="run delivery workers only (scale-out beside gateway serve)"
    )
    worker.add_argument("--workers", type=int, default=1, help="workers in this process")
    worker.add_argument(
        "--metrics-port",
        type=int,
        help="serve this process's Prometheus metrics at http://<host>:<port>/metrics",
    )
    worker.add_argument(
        "--metrics-host", default="127.0.0.1", help="interface for --metrics-port (127.0.0.1)"
    )

    _add_outbox_parser(commands)

    token = commands.add_parser(
        "token",
        help="get an access token as a registered client (prints it, for curl)",
    )
    token.add_argument("--client", required=True, help="client id, e.g. demo-provider-epr")
    token.add_argument(
        "--url", help="the gateway's base URL (default http://GATEWAY_HOST:GATEWAY_PORT)"
    )
    token.add_argument("--scope", help="scopes to ask for (default: all the client may have)")
    token.add_argument(
        "--key",
        type=Path,
        help="the client's private key, PEM (default: <config dir>/keys/<client>.private.pem)",
    )

    config = commands.add_parser("config", help="the configuration directory")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser(
        "check", help="load and check every file, as a start or reload would; change nothing"
    )
    config_commands.add_parser(
        "reload",
        help="check, then ask every gateway process on the store to reload without a restart",
    )

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration")
    db_commands.add_parser("current", help="print the schema revision and whether it is current")

    backup = commands.add_parser(
        "backup",
        help="copy the SQLite store, consistently, while it serves (PostgreSQL: pg_dump)",
    )
    backup.add_argument(
        "directory", type=Path, help="where the copy and its manifest go (made 0700 if new)"
    )

    audit = commands.add_parser("audit", help="the tamper-evident access log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="recompute the whole Merkle tree from the database and check every checkpoint",
    )
    verify.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="NAME_OR_FILE",
        help="also check that the log extends the newest checkpoint this witness holds: "
        "a witness named in audit-log.yaml, 'all' of them, or a witness file (repeatable)",
    )
    export = audit_commands.add_parser(
        "export",
        help="write events, checkpoints and the public key for python -m gateway.access_log.verify",
    )
    export.add_argument("directory", type=Path, help="a new (or empty) directory")
    audit_commands.add_parser(
        "checkpoint", help="sequence every committed event and sign a checkpoint now"
    )
    archive = audit_commands.add_parser(
        "archive",
        help="export, verify, then remove the attested events recorded before a date",
    )
    archive.add_argument(
        "--before", required=True, type=_utc_date, help="a date, YYYY-MM-DD (UTC midnight)"
    )
    archive.add_argument("directory", type=Path, help="a new (or empty) directory")

    args = parser.parse_args(argv)
    try:
        return _dispatch(args, Settings())
    except ConfigurationError as error:
        print(f"gateway: {error.message}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    # Imports inside each branch: see the module's docstring.
    if args.command == "serve":
        from gateway.commands.serve import serve  # noqa: PLC0415

        if args.metrics_port is not None:
            settings = settings.model_copy(update={"metrics_port": args.metrics_port})
        return serve(settings, args.host, args.port, args.workers)
    if args.command == "outbox":
        from gateway.commands.outbox import outbox_command  # noqa: PLC0415

        return outbox_command(
            settings,
            args.outbox_command,
            delivery_id=getattr(args, "delivery", None),
            states=tuple(getattr(args, "state", ())),
            reason=getattr(args, "reason", None),
        )
    if args.command == "worker":
        from gateway.commands.worker import worker_command  # noqa: PLC0415

        metrics_at = (args.metrics_host, args.metrics_port) if args.metrics_port else None
        return worker_command(settings, max(args.workers, 1), metrics_at=metrics_at)
    if args.command == "token":
        from gateway.commands.token import token_command  # noqa: PLC0415

        return token_command(settings, args.client, args.url, args.scope, args.key)
    if args.command == "audit":
        from gateway.commands.audit import audit_command  # noqa: PLC0415

        return audit_command(
            settings,
            args.audit_command,
            getattr(args, "directory", None),
            before=getattr(args, "before", None),
            witnesses=tuple(getattr(args, "witness", ())),
        )
    if args.command == "backup":
        from gateway.commands.backup import backup_command  # noqa: PLC0415

        return backup_command(settings, args.directory)
    if args.command == "config":
        from gateway.commands.config import config_command  # noqa: PLC0415

        return config_command(settings, args.config_command)
    from gateway.commands.db import current_command, upgrade_command  # noqa: PLC0415

    if args.db_command == "upgrade":
        return upgrade_command(settings)
    return current_command(settings)


def _add_outbox_parser(commands: Any) -> None:
    """`gateway outbox ...` on the CLI's subcommands (an argparse subparsers action)."""
    outbox = commands.add_parser("outbox", help="deliveries to Trusts' systems (audited)")
    actions = outbox.add_subparsers(dest="outbox_command", required=True)
    listing = actions.add_parser("list", help="pending, dead and stopped deliveries")
    listing.add_argument("--state", action="append", default=[], help="only these states")
    retry = actions.add_parser("retry", help="requeue a dead or stopped delivery")
    retry.add_argument("delivery", help="the delivery's id (its X-Request-ID)")
    discard = actions.add_parser("discard", help="give up on a waiting delivery")
    discard.add_argument("delivery", help="the delivery's id (its X-Request-ID)")
    discard.add_argument("--reason", help="why, for the log (no patient data)")


def _utc_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError("a date as YYYY-MM-DD") from None


if __name__ == "__main__":
    run()
