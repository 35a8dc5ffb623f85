"""No log line carries patient data, whatever fails: real `gateway serve` and `gateway
worker` processes, in console and JSON formats at debug level, have faults injected on
each path (a Trust answering garbage that quotes the message, then holding its answer;
the outbox table gone from under the workers mid-delivery; a delivery whose sharing
facts and body are unreadable, failing its consent re-check; a write the database
refuses mid-request, whose error quotes the row; on PostgreSQL, the database cut off
by a proxy while a request and the workers need it; a broken configuration reloaded
by SIGHUP), and every line they print is scanned for the patient's values.

The console renderer printed each worker log.exception() as a traceback with every
frame's local variables (whole deliveries) and uvicorn printed tracebacks with their
messages (a driver's error quotes the statement's parameters)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway.platform.database import Database
from tests import forked
from tests.exchange.support import handover, push_config
from tests.exchange.trust import TrustBehaviour, running_trust
from tests.servers import free_port, gateway_env, served_token
from tests.tcp_proxy import TcpProxy

NHS_NUMBER = "9434765870"
GIVEN, FAMILY = "Zébédée", "Quillfeather"
FREE_TEXT = "Saw a purple giraffe marker on the stairwell"


def patient_values() -> list[str]:
    """Each value, as written and as a log might encode it (JSON or repr escapes)."""
    values = [NHS_NUMBER, "943 476 5870", GIVEN, FAMILY, FREE_TEXT, "purple giraffe"]
    encoded = [json.dumps(value)[1:-1] for value in values] + [
        repr(value)[1:-1] for value in values
    ]
    return sorted(set(values + encoded))


def patient_handover(external_id: str) -> dict[str, Any]:
    body = handover(external_id, NHS_NUMBER)
    body["patient"]["name"] = {"given": GIVEN, "family": FAMILY}
    body["current_presentation"] = FREE_TEXT
    return body


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_no_line_carries_patient_data_whatever_fails(
    database: Database, database_url: str, config_dir: Path, tmp_path: Path, log_format: str
) -> None:
    behaviour = TrustBehaviour(garbage_first=2, hold_seconds=3)
    with ExitStack() as stack:
        trust = stack.enter_context(running_trust(behaviour))
        proxy, served_url = _through_a_proxy(stack, database_url)
        config = push_config(
            config_dir, tmp_path / "config", trust.base_url, base_seconds=0.2, cap_seconds=0.5
        )
        env = gateway_env(
            served_url,
            GATEWAY_CONFIG_DIR=str(config),
            GATEWAY_LOG_FORMAT=log_format,
            GATEWAY_LOG_LEVEL="debug",
            GATEWAY_RATE_LIMIT_PER_SECOND="1000",
            GATEWAY_PID_FILE=str(tmp_path / "gateway.pid"),
        )
        with (
            _process(
                ["serve", "--port", str(port := free_port())], env, tmp_path / "serve.log"
            ) as serve,
            _process(["worker"], env, tmp_path / "worker.log") as worker,
        ):
            base = f"http://127.0.0.1:{port}"
            _wait(lambda: _ready(base), "the server to be ready")
            headers = {**served_token(base), "Content-Type": "application/json"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                for n in range(3):
                    body = json.dumps(patient_handover(f"LOG-{n}"), ensure_ascii=False)
                    assert client.post("/api/handovers", content=body).status_code == 201
                # The Trust answers garbage twice, then stores and holds: the outbox
                # table goes while the answers are held, so recording them fails.
                _wait(lambda: trust.requests >= 3, "a delivery held by the Trust")
                _rename(database, "outbox", "outbox_away")
                _wait(lambda: _logged(tmp_path, "delivery.record_failed"), "a failed record")
                _rename(database, "outbox_away", "outbox")
                # A delivery whose sharing facts and body cannot be read: its consent
                # re-check fails at claim.
                _poison_a_delivery(database)
                _wait(lambda: _logged(tmp_path, "sharing_facts_unreadable"), "the re-check")
                time.sleep(1)
                _unpoison(database)
                # A write the database refuses mid-request, its error quoting the row.
                with _refusing_new_versions(database):
                    body = json.dumps(patient_handover("LOG-refused"), ensure_ascii=False)
                    refused = client.post("/api/handovers", content=body)
                    assert refused.status_code not in {200, 201}
                if proxy is not None:
                    _cut_off(proxy, client, tmp_path)
                # A broken configuration, reloaded: the old one stays.
                (config / "endpoints.yaml").write_text(f"endpoints: [{FREE_TEXT} {NHS_NUMBER}\n")
                for process in (serve, worker):
                    process.send_signal(signal.SIGHUP)
                time.sleep(2)
    lines = [
        line
        for name in _OUTPUTS
        for line in (tmp_path / name).read_text(encoding="utf-8").splitlines()
    ]
    leaks = [line for line in lines if any(value in line for value in patient_values())]
    assert leaks == []
    if log_format == "json":
        events = [json.loads(line) for line in lines if line.startswith("{")]
        failures = {event["event"]: event for event in events if "error_at" in event}
        # Each failure is still located: its type and frames, never its text (the
        # outbox gone is an OperationalError on SQLite, a ProgrammingError on PostgreSQL).
        assert {"delivery.record_failed", "delivery.claim_failed"} <= failures.keys()
        recorded = failures["delivery.record_failed"]
        assert recorded["error_type"] in {"OperationalError", "ProgrammingError"}
        assert "gateway.exchange.worker:_record_all:" in recorded["error_at"]


@contextmanager
def _process(arguments: list[str], env: dict[str, str], output: Path) -> Iterator[Any]:
    with output.open("wb") as sink:
        process = forked.start(arguments, env=env, stdout=sink.fileno(), stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _through_a_proxy(stack: ExitStack, database_url: str) -> tuple[TcpProxy | None, str]:
    """On PostgreSQL, the processes reach the database through a proxy the test can cut
    (the test itself goes direct, to set faults up)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None, database_url
    proxy = stack.enter_context(TcpProxy(url.host or "127.0.0.1", url.port or 5432))
    return proxy, url.set(port=proxy.port).render_as_string(hide_password=False)


def _cut_off(proxy: TcpProxy, client: httpx.Client, directory: Path) -> None:
    """The database unreachable while a request needs it and the workers poll."""
    failed_claims = _count(directory, "delivery.claim_failed")
    proxy.reset()
    try:
        body = json.dumps(patient_handover("LOG-cut-off"), ensure_ascii=False)
        assert client.post("/api/handovers", content=body).status_code >= 500
        _wait(
            lambda: _count(directory, "delivery.claim_failed") > failed_claims,
            "a claim to fail while the database is cut off",
        )
    finally:
        proxy.pass_through()


def _count(directory: Path, event: str) -> int:
    return sum((directory / name).read_text("utf-8").count(event) for name in _OUTPUTS)


def _logged(directory: Path, event: str) -> bool:
    return _count(directory, event) > 0


_OUTPUTS = ("serve.log", "worker.log")


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _wait(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.1)


def _rename(database: Database, table: str, to: str) -> None:
    with database.write() as connection:
        connection.execute(text(f"ALTER TABLE {table} RENAME TO {to}"))


def _poison_a_delivery(database: Database) -> None:
    with database.write() as connection:
        connection.execute(
            text(
                "UPDATE outbox SET sharing = :sharing, body = :body, state = 'queued', "
                "next_attempt_at = created_at WHERE seq = (SELECT min(seq) FROM outbox)"
            ),
            {"sharing": f"not facts {FREE_TEXT}", "body": f"not json {GIVEN} {NHS_NUMBER}"},
        )


def _unpoison(database: Database) -> None:
    with database.write() as connection:
        connection.execute(text("DELETE FROM outbox WHERE body LIKE 'not json%'"))


@contextmanager
def _refusing_new_versions(database: Database) -> Iterator[None]:
    postgres = database.dialect == "postgresql"
    refuse, allow = (
        (
            "ALTER TABLE resource_versions ADD CONSTRAINT refuse_all CHECK (false) NOT VALID",
            "ALTER TABLE resource_versions DROP CONSTRAINT refuse_all",
        )
        if postgres
        else (
            "CREATE TRIGGER refuse_all BEFORE INSERT ON resource_versions "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END",
            "DROP TRIGGER refuse_all",
        )
    )
    with database.write() as connection:
        connection.execute(text(refuse))
    try:
        yield
    finally:
        with database.write() as connection:
            connection.execute(text(allow))
