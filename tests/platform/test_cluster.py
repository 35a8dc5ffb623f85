"""Several processes, one database: three `gateway serve` and two `gateway worker`
processes on one PostgreSQL, driven together from threads, keep every promise one
process keeps: no duplicate record (conditional creates racing on one identifier create
one), one winner per conflicting update (the others 412), every delivery stored exactly
once at a Trust that fails at first, each escalation deadline acted on once, and one
access log that verifies. A configuration reload asked once reaches every process (a bad
file refused by each, the running configuration kept), and a client's rate limit holds
across the processes instead of multiplying by them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gateway.access_log.checking import verify_database
from gateway.access_log.keys import KeyHistory, load_audit_signing_key
from gateway.access_log.sequencer import Sequencer
from gateway.configuration.cluster import request_reload
from gateway.exchange.deliveries import DeliveryState
from gateway.platform.database import Database
from gateway.platform.schema import (
    audit_checkpoints,
    audit_events,
    escalation_steps,
    interface_delays,
    resources,
)
from tests import forked
from tests.builders import patient, service_request
from tests.exchange.support import deliveries, handover, push_config
from tests.exchange.trust import TrustBehaviour, running_trust
from tests.faults import empty_store
from tests.handovers.test_ladder_end_to_end import rows, shortened
from tests.handovers.test_routes import example
from tests.servers import SIGNING_KEYS, free_port, gateway_env, served_token
from tests.servers import _wait_ready as wait_ready

FHIR = {"Content-Type": "application/fhir+json"}
AGREEMENT = "agreements/dsa-north-crisis-pathway.yaml"


def nhs_numbers(start: int, count: int) -> list[str]:
    """Valid NHS numbers (Modulus 11), none of them a real person's (999 range)."""
    found = []
    stem = start
    while len(found) < count:
        digits = f"{stem:09d}"
        check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(digits)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            found.append(digits + str(check))
        stem += 1
    return found


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def postgres(postgresql_url: str) -> Iterator[Database]:
    database = empty_store(postgresql_url)
    try:
        yield database
    finally:
        database.dispose()


class Cluster:
    def __init__(self, bases: list[str], workers: list[forked.ForkedProcess], logs: list[Path]):
        self.bases = bases
        self.workers = workers
        self.worker_logs = logs


@contextmanager
def cluster(database_url: str, log_dir: Path, *, workers: int = 2, **env: str) -> Iterator[Cluster]:
    """Three serve processes and `workers` worker processes on one store, each logging
    to a file of its own in `log_dir` (read when a test fails). Small connection pools:
    the machine's PostgreSQL (100 connections) serves other tests at the same time."""
    process_env = gateway_env(
        database_url, GATEWAY_DB_POOL_SIZE="2", GATEWAY_DB_MAX_OVERFLOW="4", **env
    )
    processes, logs, bases = [], [], []
    with ExitStack() as stack:

        def start(args: list[str], name: str) -> forked.ForkedProcess:
            log = log_dir / f"{name}.log"
            out = stack.enter_context(log.open("wb"))
            process = forked.start(
                args,
                env=process_env,
                stdout=out.fileno(),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            processes.append(process)
            logs.append(log)
            return process

        try:
            started = [start(["worker"], f"worker-{n}") for n in range(workers)]
            for n in range(3):
                port = free_port()
                start(["serve", "--port", str(port)], f"serve-{n}")
                bases.append(f"http://127.0.0.1:{port}")
            for base in bases:
                wait_ready(base, {})
            yield Cluster(bases, started, logs[:workers])
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Each call on a thread of its own, released at once (a barrier), their results."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_three_servers_and_two_workers_keep_every_promise_of_one(
    postgres: Database, postgresql_url: str, config_dir: Path, tmp_path: Path
) -> None:
    numbers = nhs_numbers(999_000_100, 20)
    with running_trust(TrustBehaviour(fail_first=3, retry_after="0")) as trust:
        config = shortened(
            push_config(config_dir, tmp_path / "config", trust.base_url, base_seconds=0.05)
        )
        env = {
            "GATEWAY_CONFIG_DIR": str(config),
            "GATEWAY_DEADLINE_POLL_SECONDS": "0.2",
            "GATEWAY_AUDIT_SEQUENCE_INTERVAL_SECONDS": "0.1",
        }
        with cluster(postgresql_url, tmp_path, **env) as running:
            bases = running.bases
            provider = served_token(bases[0], config_dir=config)

            # The escalation first: its ladder climbs (2 s a step) while the rest runs.
            body = example("escalation-manager", respond_in=timedelta(hours=2))
            body["escalation"]["level"] = "front-line"
            escalation = httpx.post(
                f"{bases[2]}/api/escalations",
                content=json.dumps(body),
                headers={**provider, "Content-Type": "application/json"},
            )
            assert escalation.status_code == 201, escalation.text

            def push(n: int) -> httpx.Response:
                return httpx.post(
                    f"{bases[n % 3]}/api/handovers",
                    content=json.dumps(handover(f"CLUSTER-{n}", numbers[n])),
                    headers={**provider, "Content-Type": "application/json"},
                    timeout=30,
                )

            def create(n: int) -> httpx.Response:
                return httpx.post(
                    f"{bases[n % 3]}/fhir/ServiceRequest",
                    json=service_request(numbers[n]),
                    headers={**provider, **FHIR},
                    timeout=30,
                )

            def conditional(n: int) -> httpx.Response:
                return httpx.post(
                    f"{bases[n % 3]}/fhir/Patient",
                    json=patient(numbers[19]),
                    headers={
                        **provider,
                        **FHIR,
                        "If-None-Exist": f"identifier=https://fhir.nhs.uk/Id/nhs-number|{numbers[19]}",
                    },
                    timeout=30,
                )

            # Pushes, creates and the racing conditional creates, all at once.
            answers = together(
                [lambda n=n: push(n) for n in range(9)]
                + [lambda n=n: create(n) for n in range(9, 18)]
                + [lambda n=n: conditional(n) for n in range(9)]
            )
            pushed, created, conditionals = answers[:9], answers[9:18], answers[18:]
            assert [r.status_code for r in pushed] == [201] * 9, [r.text for r in pushed]
            assert [r.status_code for r in created] == [201] * 9, [r.text for r in created]
            statuses = sorted(r.status_code for r in conditionals)
            assert statuses == [200] * 8 + [201], [r.text for r in conditionals]
            assert len({r.json()["id"] for r in conditionals}) == 1

            # Reads and searches through every server see every write.
            ids = [r.json()["id"] for r in created]
            reads = together(
                [
                    lambda i=i, n=n: httpx.get(
                        f"{bases[(n + 1) % 3]}/fhir/ServiceRequest/{i}", headers=provider
                    )
                    for n, i in enumerate(ids)
                ]
                + [
                    lambda base=base: httpx.get(
                        f"{base}/fhir/ServiceRequest?_count=100", headers=provider
                    )
                    for base in bases
                ]
            )
            assert [r.status_code for r in reads] == [200] * len(reads)
            for search in reads[len(ids) :]:
                found = {e["resource"]["id"] for e in search.json().get("entry", [])}
                assert set(ids) <= found

            # Updates racing on one version, through all three servers: one wins.
            target = created[0].json()
            racing = together(
                [
                    lambda n=n: httpx.put(
                        f"{bases[n % 3]}/fhir/ServiceRequest/{target['id']}",
                        json={**target, "status": "on-hold", "note": [{"text": f"by {n}"}]},
                        headers={**provider, **FHIR, "If-Match": 'W/"1"'},
                        timeout=30,
                    )
                    for n in range(9)
                ]
            )
            assert sorted(r.status_code for r in racing) == [200] + [412] * 8, [
                r.text for r in racing
            ]
            latest = httpx.get(f"{bases[2]}/fhir/ServiceRequest/{target['id']}", headers=provider)
            assert latest.headers["ETag"] == 'W/"2"'

            # Every delivery stored once at the Trust (9 handovers, 3 ladder steps), and
            # each of the escalation's deadlines acted on by one process.
            assert wait_for(
                lambda: (
                    len(rows(postgres, interface_delays)) == 3
                    and len(trust.stored) == 12
                    and all(d.state == DeliveryState.DELIVERED for d in deliveries(postgres))
                ),
                40,
            ), ([(d.state, d.last_error) for d in deliveries(postgres)], len(trust.stored))
            time.sleep(0.5)  # time for any process that would act twice to do so
        assert len(deliveries(postgres)) == 12
        assert len(trust.stored) == 12
        assert trust.requests == 12 + 3  # the three refused at first, each sent again
    delays = sorted(rows(postgres, interface_delays), key=lambda delay: delay["step"])
    assert [delay["action"] for delay in delays] == ["step-up", "step-up", "notify"]
    steps = sorted(rows(postgres, escalation_steps), key=lambda step: step["step"])
    assert [step["level"] for step in steps] == ["front-line", "manager", "senior"]
    with postgres.read() as connection:
        patients = connection.execute(
            select(func.count())
            .select_from(resources)
            .where(resources.c.resource_type == "Patient")
        ).scalar_one()
    assert patients == 1
    _assert_one_access_log_that_verifies(postgres)


def _assert_one_access_log_that_verifies(database: Database) -> None:
    key = load_audit_signing_key(
        SIGNING_KEYS / "audit-signing-key.pem",
        name="mh-gateway/demo/audit",
        generate_if_missing=False,
    )
    with database.write() as connection:
        while Sequencer(key).run(connection, checkpoint_now=True).sequenced:
            pass
    with database.read() as connection:
        logged = connection.execute(select(func.count()).select_from(audit_events)).scalar()
        positions, top = connection.execute(
            select(
                func.count(audit_events.c.position.distinct()), func.max(audit_events.c.position)
            )
        ).one()
        signed = connection.execute(select(func.count()).select_from(audit_checkpoints)).scalar()
        report = verify_database(connection, KeyHistory.of(key, ()))
    assert logged
    assert (positions, top) == (logged, logged - 1)
    assert signed
    assert report.ok, report.problem
    assert report.events_checked == logged


def _configuration_loads(database: Database) -> list[int]:
    with database.read() as connection:
        rows = connection.execute(
            select(audit_events.c.outcome)
            .where(audit_events.c.subtype == "configuration-load")
            .order_by(audit_events.c.seq)
        )
        return [int(row.outcome) for row in rows]


def test_one_reload_reaches_every_process_and_a_bad_file_is_refused_by_each(
    postgres: Database, postgresql_url: str, config_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(config_dir, config)
    env = {"GATEWAY_CONFIG_DIR": str(config), "GATEWAY_CONFIG_POLL_SECONDS": "30"}
    with cluster(postgresql_url, tmp_path, **env) as running:
        bases = running.bases
        provider = served_token(bases[0], config_dir=config)
        trust = served_token(bases[0], "demo-trust-crisis", config_dir=config)
        created = httpx.post(
            f"{bases[0]}/fhir/ServiceRequest", json=service_request(), headers={**provider, **FHIR}
        )
        assert created.status_code == 201, created.text

        def trust_reads() -> list[int]:
            return [
                httpx.get(
                    f"{b}/fhir/ServiceRequest/{created.json()['id']}", headers=trust
                ).status_code
                for b in bases
            ]

        assert trust_reads() == [200, 200, 200]
        assert _configuration_loads(postgres) == [0, 0, 0]

        # A broken file, and a reload asked of everyone (as from a host whose files were
        # good): each server refuses it and keeps its configuration; so does each worker.
        (config / "agreements" / "broken.yaml").write_text("id: [not, an, id]\n")
        request_reload(postgres, config, "test")
        assert wait_for(lambda: _configuration_loads(postgres) == [0, 0, 0, 4, 4, 4], 10)
        assert wait_for(
            lambda: all(
                "worker.config_reload_refused" in log.read_text() for log in running.worker_logs
            ),
            10,
        )
        assert trust_reads() == [200, 200, 200]

        # Mended, and the agreement withdrawn: SIGHUP to one worker reloads it, and it
        # asks the rest, woken by NOTIFY well inside their 30 s poll.
        (config / "agreements" / "broken.yaml").unlink()
        (config / AGREEMENT).unlink()
        asked = time.monotonic()
        running.workers[0].send_signal(signal.SIGHUP)
        assert wait_for(lambda: trust_reads() == [403, 403, 403], 10)
        assert time.monotonic() - asked < 10
        assert wait_for(
            lambda: all("worker.config_reloaded" in log.read_text() for log in running.worker_logs),
            10,
        )
        assert _configuration_loads(postgres) == [0, 0, 0, 4, 4, 4, 0, 0, 0]


def test_a_client_rate_limit_holds_across_three_servers(
    postgres: Database, postgresql_url: str, config_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(config_dir, config)
    clients = config / "clients.yaml"
    clients.write_text(
        clients.read_text().replace(
            "rate_limit: {per_second: 50, burst: 100}", "rate_limit: {per_second: 5, burst: 5}"
        )
    )
    with cluster(postgresql_url, tmp_path, workers=0, GATEWAY_CONFIG_DIR=str(config)) as running:
        bases = running.bases
        provider = served_token(bases[0], config_dir=config)
        seconds = 3.0
        started = time.monotonic()

        def hammer(base: str) -> list[int]:
            statuses = []
            with httpx.Client(headers=provider) as http:
                while time.monotonic() - started < seconds:
                    statuses.append(http.get(f"{base}/fhir/Organization?_count=1").status_code)
            return statuses

        with ThreadPoolExecutor(6) as pool:
            answered = [s for found in pool.map(hammer, bases * 2) for s in found]
        elapsed = time.monotonic() - started
    # One bucket of 5, refilled at 5 a second, for all three processes together (with a
    # bucket each it would admit three times as many).
    limited = answered.count(200)
    assert set(answered) == {200, 429}
    allowed = 5 + 5 * elapsed
    assert limited <= allowed + 2, (limited, allowed)
    # At least the burst (how many more depends on how fast a loaded machine answers the
    # admitted searches: the upper bound is the promise).
    assert limited >= 5, (limited, allowed)
