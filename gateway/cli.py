"""The `gateway` command for operators: serve, and manage the database schema."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from gateway.app import create_app, preflight
from gateway.errors import ConfigurationError
from gateway.settings import Settings
from gateway.store import migrate
from gateway.store.database import Database


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (FHIR at /fhir)")
    serve.add_argument("--host", help="interface to bind (default GATEWAY_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default GATEWAY_PORT or 8080)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration")
    db_commands.add_parser("current", help="print the schema revision and whether it is current")

    args = parser.parse_args(argv)
    settings = Settings()
    try:
        if args.command == "serve":
            return _serve(settings, args.host, args.port, args.workers)
        if args.db_command == "upgrade":
            return _db_upgrade(settings)
        return _db_current(settings)
    except ConfigurationError as error:
        print(f"gateway: {error.message}", file=sys.stderr)
        return 2


def _serve(settings: Settings, host: str | None, port: int | None, workers: int) -> int:
    host = host or settings.host
    port = port or settings.port
    preflight(settings)
    print(_banner(settings, host, port), flush=True)
    if workers > 1:
        uvicorn.run(
            "gateway.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_level="warning",
        )
    else:
        uvicorn.run(
            create_app(settings), host=host, port=port, access_log=False, log_level="warning"
        )
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


def _banner(settings: Settings, host: str, port: int) -> str:
    base = f"http://{host}:{port}"
    return f"""
Mental-health interface gateway ({settings.env}) on {base}
  store:  {settings.database_url}
  config: {settings.config_dir}

Try it:
  curl -s {base}/fhir/metadata | head -c 300
  curl -s {base}/fhir/Organization
  curl -s -X POST {base}/fhir/Patient -H 'Content-Type: application/fhir+json' \\
       -d '{{"resourceType":"Patient","identifier":[{{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}}]}}'
  curl -s '{base}/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919'
Stop with Ctrl-C.
"""


if __name__ == "__main__":
    sys.exit(main())
