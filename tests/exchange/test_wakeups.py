"""Waking idle workers: on PostgreSQL a push queued by any process wakes them at once
(LISTEN/NOTIFY), long before their poll; a lost connection to the database is retried
and costs nothing but the wake-up; and the running pipeline (claim, send, record)
delivers a backlog and stops when asked, on both databases."""

from __future__ import annotations

import gc
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import psycopg
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from gateway.app import create_app
from gateway.exchange.deliveries import DeliveryState
from gateway.exchange.doorbell import Doorbell
from gateway.exchange.wakeups import ring_on_notify
from gateway.exchange.worker import DeliveryWorker, WorkerSettings, run_workers
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.settings import Settings
from tests.exchange.support import config_loader, deliveries, gateway, handover, push, push_config
from tests.tokens import access_token, bearer

TRUST = "https://crisis.rzz.test/fhir"
ENDPOINT = f"{TRUST}/$process-message"
SLOW_POLL = WorkerSettings(poll_interval=30)  # longer than any of these tests


@pytest.fixture
def config(config_dir: Path, tmp_path: Path) -> Path:
    return push_config(config_dir, tmp_path / "config", TRUST)


@pytest.fixture
def postgresql(postgresql_url: str) -> Iterator[Database]:
    database = Database(postgresql_url)
    migrate.upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def delivered(database: Database) -> int:
    return sum(1 for delivery in deliveries(database) if delivery.state == DeliveryState.DELIVERED)


async def until(condition: object, seconds: float) -> float:
    """Seconds until `condition()` held (polled every 20 ms); fails after `seconds`."""
    began = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - began < seconds, "not within the time allowed"
        await anyio.sleep(0.02)
    return time.monotonic() - began


@respx.mock
def test_a_push_wakes_an_idle_worker_on_postgresql_long_before_its_poll(
    postgresql: Database, config: Path, signing_key_path: Path, audit_key_path: Path
) -> None:
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(200))
    on_postgresql = Settings(
        database_url=postgresql.url.render_as_string(hide_password=False),
        config_dir=config,
        env="dev",
        token_signing_key=signing_key_path,
        audit_signing_key=audit_key_path,
    )
    worker = DeliveryWorker(postgresql, config_loader(config), settings=SLOW_POLL)
    before = delivered(postgresql)

    async def scenario(client: TestClient) -> float:
        stopping = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(run_workers, [worker], stopping, postgresql)
            await anyio.sleep(0.5)  # idle now, its next poll 30 s away
            await anyio.to_thread.run_sync(push, client, handover("EPR-WAKE-1"))
            waited = await until(lambda: delivered(postgresql) > before, seconds=10)
            stopping.set()
        return waited

    with gateway(on_postgresql, config) as client:
        waited = anyio.run(scenario, client)
    assert waited < 10
    assert route.call_count == 1


@respx.mock
def test_a_push_wakes_the_servers_own_idle_worker_on_either_database(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(200))
    serving = settings.model_copy(
        update={"config_dir": config, "delivery_workers": 1, "delivery_poll_seconds": 30}
    )
    app = create_app(serving)
    with TestClient(app, base_url="http://testserver") as client:
        client.headers["Authorization"] = bearer(access_token(client))["Authorization"]
        time.sleep(0.5)  # its worker idle now, the next poll 30 s away
        push(client, handover("EPR-WAKE-2"))
        began = time.monotonic()
        while delivered(database) < 1:
            assert time.monotonic() - began < 10, "the push did not wake the worker"
            time.sleep(0.02)
    assert route.call_count == 1


def test_a_database_that_cannot_be_reached_is_retried_without_failing() -> None:
    unreachable = make_url("postgresql://nobody@127.0.0.1:1/none")

    async def scenario() -> bool:
        doorbell = Doorbell()
        with anyio.move_on_after(1.2):
            await ring_on_notify(unreachable, [doorbell])  # returns only when cancelled
        return True

    assert anyio.run(scenario)


@respx.mock
def test_the_running_worker_delivers_a_backlog_and_stops_when_asked(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(200))
    with gateway(settings, config) as client:
        for n in range(5):
            push(client, handover(f"EPR-RUN-{n}", nhs_number=NHS_NUMBERS[n]))
    # Several rounds through the pipeline; then idle, its next poll 30 s away.
    rounds_of_two = WorkerSettings(poll_interval=30, batch=2)
    worker = DeliveryWorker(database, config_loader(config), settings=rounds_of_two)

    async def scenario() -> float:
        stopping = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(run_workers, [worker], stopping, database)
            await until(lambda: delivered(database) == 5, seconds=20)
            stopping.set()
            asked = time.monotonic()
        return time.monotonic() - asked  # the task group waited for the workers

    assert anyio.run(scenario) < 5  # it stopped when asked, not at its next poll
    assert route.call_count == 5
    assert {d.attempts for d in deliveries(database)} == {1}


# Valid NHS numbers (Modulus 11), one person each, so no delivery waits for another.
NHS_NUMBERS = ("9434765919", "9434765870", "9434765862", "9434765854", "9434765846")


def test_a_listener_stopped_mid_cleanup_still_closes_its_connection(
    postgresql: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping cancels the listener, and a cancelled scope interrupts every wait inside
    it again: a rollback that waits (here made to, as one with I/O to do does) used to end
    the cleanup before the close, leaving the connection to the garbage collector (seen
    as a ResourceWarning failing whatever test ran next)."""
    rollback = psycopg.AsyncConnection.rollback

    async def rollback_that_waits(self: psycopg.AsyncConnection[object]) -> None:
        await anyio.sleep(0)
        await rollback(self)

    monkeypatch.setattr(psycopg.AsyncConnection, "rollback", rollback_that_waits)

    async def scenario() -> None:
        doorbell = Doorbell()
        async with anyio.create_task_group() as group:
            group.start_soon(ring_on_notify, postgresql.url, [doorbell])
            await doorbell.wait(10)  # rung once it listens
            group.cancel_scope.cancel()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        anyio.run(scenario)
        gc.collect()
    assert [w.message for w in caught if issubclass(w.category, ResourceWarning)] == []
