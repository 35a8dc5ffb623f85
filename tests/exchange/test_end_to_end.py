"""Delivery end to end against a real receiver on loopback, on both databases: the
gateway's own worker (inside `gateway serve`'s lifespan) delivers pushed handovers to a
Trust that fails at first, each stored exactly once; and a `gateway worker` process killed
while deliveries are in flight loses and duplicates nothing after a restart."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from gateway.app import create_app
from gateway.exchange.deliveries import DeliveryState
from gateway.platform.database import Database
from gateway.platform.schema import outbox
from gateway.platform.settings import Settings
from tests import forked
from tests.exchange.support import deliveries, gateway, handover, push, push_config
from tests.exchange.trust import TrustBehaviour, running_trust
from tests.servers import gateway_env

NHS_NUMBERS = ["9434765919", "9434765870", "9434765862", "9434765854", "9434765846", "9434765838"]


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_the_gateway_delivers_to_a_trust_that_fails_at_first_each_once(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    with running_trust(TrustBehaviour(fail_first=3, retry_after="0")) as trust:
        config = push_config(config_dir, tmp_path / "config", trust.base_url, base_seconds=0.05)
        served = settings.model_copy(update={"config_dir": config})
        with gateway(served, config) as client:
            ids = [push(client, handover(f"E2E-{n}", NHS_NUMBERS[n])) for n in range(6)]
        # The app's own worker was off (gateway() sets delivery_workers=0): start one that
        # has it on, as `gateway serve` runs, and let it drain the outbox.
        app = create_app(served.model_copy(update={"delivery_workers": 1}))
        with TestClient(app):
            assert wait_for(
                lambda: all(d.state == DeliveryState.DELIVERED for d in deliveries(database)), 30
            ), [(d.state, d.last_error) for d in deliveries(database)]
    assert len(trust.stored) == 6
    assert trust.requests == 6 + 3
    assert sorted(d.service_request_id for d in deliveries(database)) == sorted(ids)


def test_a_trust_that_answers_too_late_still_stores_each_handover_once(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    # It stores, then holds its answer past the gateway's 2 s read timeout: the gateway
    # retries the same request id and body, and the Trust's 409 duplicate counts.
    with running_trust(TrustBehaviour(hold_seconds=2.5)) as trust:
        config = push_config(config_dir, tmp_path / "config", trust.base_url, base_seconds=0.05)
        served = settings.model_copy(update={"config_dir": config})
        with gateway(served, config) as client:
            push(client, handover("LATE-1", NHS_NUMBERS[0]))
        app = create_app(served.model_copy(update={"delivery_workers": 1}))
        with TestClient(app):
            assert wait_for(lambda: deliveries(database)[0].state == DeliveryState.DELIVERED, 30)
    (delivered,) = deliveries(database)
    assert delivered.attempts >= 2
    assert len(trust.stored) == 1
    assert trust.requests == delivered.attempts


def test_a_trust_that_takes_transactions_holds_each_resource_once_after_a_resend(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    with running_trust(TrustBehaviour(fail_first=2)) as trust:
        config = push_config(
            config_dir, tmp_path / "config", trust.base_url, send="transaction", base_seconds=0.05
        )
        served = settings.model_copy(update={"config_dir": config})
        with gateway(served, config) as client:
            for n in range(3):
                push(client, handover(f"TXN-{n}", NHS_NUMBERS[n]))
        app = create_app(served.model_copy(update={"delivery_workers": 1}))
        with TestClient(app):
            assert wait_for(
                lambda: all(d.state == DeliveryState.DELIVERED for d in deliveries(database)), 30
            )
            first = dict(trust.resources)
            # As if a worker died after the Trust stored one but before it was recorded:
            # in flight, its lease run out. It is sent again: the same PUTs, so new
            # versions of the same resources, no new records.
            again = deliveries(database)[0].id
            with database.write() as connection:
                connection.execute(
                    update(outbox)
                    .where(outbox.c.id == again)
                    .values(
                        state=DeliveryState.IN_FLIGHT,
                        leased_by="a-worker-that-died",
                        lease_until=datetime.now(UTC) - timedelta(seconds=1),
                    )
                )
            assert wait_for(lambda: max(trust.resources.values()) == 2, 30)
    assert len(first) == 3 * 5  # ServiceRequest, two Flags, Communication, Provenance
    assert set(trust.resources) == set(first)
    assert sorted(trust.resources.values()).count(2) == 5
    assert all(d.receiver_reference for d in deliveries(database))
    assert trust.requests == 2 + 3 + 1


def test_a_worker_killed_mid_delivery_loses_and_duplicates_nothing(
    settings: Settings, database: Database, database_url: str, config_dir: Path, tmp_path: Path
) -> None:
    with running_trust(TrustBehaviour(hold_seconds=3)) as trust:
        config = push_config(config_dir, tmp_path / "config", trust.base_url)
        with gateway(settings, config) as client:
            for n in range(4):
                push(client, handover(f"CRASH-{n}", NHS_NUMBERS[n]))
        env = gateway_env(
            database_url,
            GATEWAY_CONFIG_DIR=str(config),
            GATEWAY_DELIVERY_LEASE_SECONDS="2",
        )
        worker = forked.start(["worker"], env=env, start_new_session=True)
        try:
            # The Trust has stored them and holds its answers: kill the worker now, before
            # it can record any outcome.
            assert wait_for(lambda: len(trust.stored) == 4, 20)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            assert not any(d.state == DeliveryState.DELIVERED for d in deliveries(database))
            trust.behaviour.hold_seconds = 0
            worker = forked.start(["worker"], env=env, start_new_session=True)
            assert wait_for(
                lambda: all(d.state == DeliveryState.DELIVERED for d in deliveries(database)), 30
            ), [(d.state, d.last_error) for d in deliveries(database)]
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=10)
    # Sent again after the restart (answered 409 duplicate, counted as delivered), and
    # stored once each.
    assert len(trust.stored) == 4
    assert trust.requests >= 8
