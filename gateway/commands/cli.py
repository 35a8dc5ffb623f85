"""The `gateway` command for operators: serve, get a token, manage the database schema,
verify and export the access log."""

from __future__ import annotations

import argparse
import ssl
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gateway.app import create_app, preflight
from gateway.auth.client_assertion import client_assertion, load_private_key
from gateway.auth.token_service import ASSERTION_TYPE
from gateway.commands.audit import audit_command
from gateway.commands.config import config_command, pid_file
from gateway.commands.outbox import add_outbox_parser, outbox_command
from gateway.commands.worker import worker_command
from gateway.configuration.loader import load_config
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.errors import ConfigurationError
from gateway.platform.log_exceptions import install_process_hooks
from gateway.platform.settings import Settings
from gateway.web.http_limits import limited_protocol
from gateway.web.listener import check_listener, forwarded_header_options
from gateway.web.tls import ClientCertificateH11Protocol


def run() -> None:
    """The `gateway` command as a process: the interpreter's own reports (uncaught
    exceptions, warnings) go through the log's redaction too."""
    install_process_hooks()
    sys.exit(main())


def served_app() -> Any:
    """The app factory each of several uvicorn worker processes calls."""
    install_process_hooks()
    return create_app(freeze_heap=True)


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

    add_outbox_parser(commands)

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
        help="check, then tell the running `gateway serve` to reload (SIGHUP) without a restart",
    )

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration")
    db_commands.add_parser("current", help="print the schema revision and whether it is current")

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
    settings = Settings()
    try:
        if args.command == "serve":
            if args.metrics_port is not None:
                settings = settings.model_copy(update={"metrics_port": args.metrics_port})
            return _serve(settings, args.host, args.port, args.workers)
        if args.command == "outbox":
            return outbox_command(
                settings,
                args.outbox_command,
                delivery_id=getattr(args, "delivery", None),
                states=tuple(getattr(args, "state", ())),
                reason=getattr(args, "reason", None),
            )
        if args.command == "worker":
            metrics_at = (args.metrics_host, args.metrics_port) if args.metrics_port else None
            return worker_command(settings, max(args.workers, 1), metrics_at=metrics_at)
        if args.command == "token":
            return _token(settings, args.client, args.url, args.scope, args.key)
        if args.command == "audit":
            return audit_command(
                settings,
                args.audit_command,
                getattr(args, "directory", None),
                before=getattr(args, "before", None),
                witnesses=tuple(getattr(args, "witness", ())),
            )
        if args.command == "config":
            return config_command(settings, args.config_command)
        if args.db_command == "upgrade":
            return _db_upgrade(settings)
        return _db_current(settings)
    except ConfigurationError as error:
        print(f"gateway: {error.message}", file=sys.stderr)
        return 2


def _utc_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError("a date as YYYY-MM-DD") from None


def _serve(settings: Settings, host: str | None, port: int | None, workers: int) -> int:
    host = host or settings.host
    port = port or settings.port
    preflight(settings)
    check_listener(settings, workers)
    tls = _tls_options(settings)
    demo = load_config(settings.config_dir).deployment.demo
    print(_banner(settings, host, port, "https" if tls else "http", demo=demo), flush=True)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": "warning",
        # uvicorn's own logging config would print its errors' tracebacks (messages
        # included) itself; without one, they go through the gateway's redaction.
        "log_config": None,
        "http": limited_protocol(settings),
        **tls,
        **forwarded_header_options(settings),
    }
    # SIGHUP to this process reloads the configuration: in a single process the app does
    # (see gateway.configuration.reload); uvicorn's supervisor restarts its workers,
    # which load it afresh.
    with pid_file(settings.pid_file):
        if workers > 1:
            uvicorn.run("gateway.commands.cli:served_app", factory=True, workers=workers, **options)
        else:
            uvicorn.run(create_app(settings, freeze_heap=True), **options)
    return 0


def _tls_options(settings: Settings) -> dict[str, Any]:
    """HTTPS when a certificate is configured; mutual TLS when a client CA is too."""
    if settings.tls_certificate is None:
        return {}
    for path in (settings.tls_certificate, settings.tls_private_key, settings.tls_client_ca):
        if path is not None and not path.is_file():
            raise ConfigurationError(f"TLS file {path} does not exist")
    options: dict[str, Any] = {
        "ssl_certfile": str(settings.tls_certificate),
        "ssl_keyfile": str(settings.tls_private_key),
    }
    if settings.tls_client_ca is not None:
        options.update(
            ssl_ca_certs=str(settings.tls_client_ca),
            ssl_cert_reqs=ssl.CERT_REQUIRED,
            # Puts each connection's client certificate thumbprint into request.state.
            http=limited_protocol(settings, ClientCertificateH11Protocol),
        )
    return options


def _token(
    settings: Settings, client_id: str, url: str | None, scope: str | None, key: Path | None
) -> int:
    """Sign an assertion with the client's key and trade it for an access token, exactly
    as a client system does; the token alone goes to stdout."""
    client = load_config(settings.config_dir).client(client_id)
    if client is None:
        raise ConfigurationError(f"no client {client_id} in {settings.config_dir}/clients.yaml")
    if len(client.keys) != 1:
        raise ConfigurationError(f"client {client_id} has several keys; this command needs one")
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    key_path = key or settings.config_dir / "keys" / f"{client_id}.private.pem"
    if not key_path.exists():
        raise ConfigurationError(f"the client's private key {key_path} does not exist (--key)")
    signed = client_assertion(
        client_id,
        f"{base}/oauth2/token",
        load_private_key(key_path),
        kid=client.keys[0].kid,
        algorithm=client.keys[0].algorithm,
    )
    try:
        response = httpx.post(
            f"{base}/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": signed,
                "scope": scope or str(client.allowed_scopes),
            },
            timeout=10,
        )
    except httpx.HTTPError:
        print(
            f"gateway: cannot reach {base}/oauth2/token (is the gateway running?)", file=sys.stderr
        )
        return 1
    if response.status_code != 200:
        print(f"gateway: token refused ({response.status_code}): {response.text}", file=sys.stderr)
        return 1
    print(response.json()["access_token"])
    return 0


def _db_upgrade(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        migrate.upgrade(database)
        print(f"database at revision {migrate.current_revision(database)} (head)")
    finally:
        database.dispose()
    return 0


def _db_current(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        revision = migrate.current_revision(database)
        head = migrate.head_revision()
        state = "current" if revision == head else f"behind (head is {head})"
        print(f"database at revision {revision or 'none'}: {state}")
        return 0 if revision == head else 1
    finally:
        database.dispose()


def _banner(
    settings: Settings, host: str, port: int, scheme: str = "http", *, demo: bool = False
) -> str:
    base = f"{scheme}://{host}:{port}"
    # --url names this server: another terminal's `gateway token` would otherwise go to
    # its own GATEWAY_HOST/GATEWAY_PORT, which need not be where this one listens.
    tokens = (
        f"""
Every call needs an access token (SMART Backend Services). For the demo clients, the
provider EPR (AZZ), the Trust's crisis system (RZZ) and the IG lead (the access log):
  TOKEN=$(.venv/bin/gateway token --url {base} --client demo-provider-epr)
  TRUST=$(.venv/bin/gateway token --url {base} --client demo-trust-crisis)
  IG=$(.venv/bin/gateway token --url {base} --client demo-ig-lead)
  python3 examples/fresh.py handover | curl -s -X POST {base}/api/handovers \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d @-
  curl -s {base}/fhir/ServiceRequest -H "Authorization: Bearer $TOKEN"
  curl -s {base}/fhir/AuditEvent -H "Authorization: Bearer $IG"   # who accessed what
Tokens live {settings.token_lifetime_seconds} s; run the command again for a new one.
"""
        if demo
        else """
Every call needs an access token (SMART Backend Services): see /.well-known/smart-configuration.
"""
    )
    return f"""
Mental-health interface gateway ({settings.env}) on {base}
  store:  {settings.database_url}
  config: {settings.config_dir}

Open: {base}/fhir/metadata, {base}/.well-known/smart-configuration, {base}/healthz
{tokens}
Stop with Ctrl-C.
"""


if __name__ == "__main__":
    run()
