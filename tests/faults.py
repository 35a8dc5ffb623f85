"""A real `gateway serve` on PostgreSQL behind a TCP proxy the test controls (the network
to the database), and what the fault tests send it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url

from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.schema import dataset_submissions, metadata, resources
from tests.paths import EXAMPLES
from tests.servers import running_server, served_token
from tests.tcp_proxy import TcpProxy
from tests.tokens import ASSERTION_TYPE, PROVIDER, assertion

JSON = {"Content-Type": "application/json"}

# Short database timeouts, so a fault is answered in seconds; the request timeout well
# above them, so what answers is the database's timeout, not the request's.
FAULT_SETTINGS = {
    "GATEWAY_DB_CONNECT_TIMEOUT_SECONDS": "2",
    "GATEWAY_DB_LOCK_TIMEOUT_SECONDS": "2",
    "GATEWAY_DB_STATEMENT_TIMEOUT_SECONDS": "5",
    "GATEWAY_REQUEST_TIMEOUT_SECONDS": "20",
    "GATEWAY_DELIVERY_WORKERS": "0",
}


@dataclass(frozen=True, slots=True)
class Served:
    base: str
    headers: dict[str, str]  # the provider EPR's access token
    proxy: TcpProxy


def empty_store(url: str) -> Database:
    database = Database(url)
    migrate.upgrade(database)
    with database.write() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
    return database


@contextmanager
def served_behind_proxy(database_url: str, **env: str) -> Iterator[Served]:
    """A server whose every database connection goes through a proxy, with a token."""
    upstream = make_url(database_url)
    with TcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432) as proxy:
        proxied = upstream.set(port=proxy.port).render_as_string(hide_password=False)
        with running_server(proxied, **{**FAULT_SETTINGS, **env}) as base:
            yield Served(base, served_token(base), proxy)


def handover(external_id: str = "EPR-2026-000417") -> bytes:
    """The spec's example, due two hours after now by the clock the server reads too (a
    real process cannot be handed a clock; under faketime both see the same time)."""
    body: dict[str, Any] = json.loads((EXAMPLES / "handover-crisis.json").read_text())
    body["external_id"] = external_id
    due = datetime.now(UTC) + timedelta(hours=2)
    body["time_sensitivity"]["respond_by"] = due.isoformat(timespec="seconds")
    return json.dumps(body).encode()


def token_form(base: str, **claims: Any) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(PROVIDER, audience=f"{base}/oauth2/token", **claims),
        "scope": "system/ServiceRequest.rs",
    }


def stored(database: Database) -> tuple[int, int]:
    """Resources (besides the directory's Organizations) and dataset submissions."""
    with database.read() as connection:
        count = connection.execute(
            select(func.count())
            .select_from(resources)
            .where(resources.c.resource_type != "Organization")
        ).scalar_one()
        taken = connection.execute(
            select(func.count()).select_from(dataset_submissions)
        ).scalar_one()
    return count, taken


def timed(send: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started
