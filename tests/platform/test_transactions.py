"""Transactions opened for requests: never leaked on cancellation, never deadlocking."""

from __future__ import annotations

import asyncio
import gc
import json
import random
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread
import psycopg
import pytest

from core.search.indexing import index_rows
from gateway.fhir.store import ResourceStore, StoredResource
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.errors import DatabaseUnavailable
from gateway.platform.transactions import TransactionGate
from tests.builders import service_request
from tests.fhir.test_store import NOW


def _without_gc_rescue(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run with the cyclic garbage collector off: a leaked transaction must not be saved
    by a collection that, under load, may come late or never."""
    gc.disable()
    try:
        asyncio.run(scenario())  # type: ignore[arg-type]
    finally:
        gc.enable()


def _record(resource_id: str) -> StoredResource:
    body = {"id": resource_id, **service_request()}
    return StoredResource("ServiceRequest", resource_id, 1, NOW, json.dumps(body))


def test_a_cancelled_request_rolls_back_and_frees_its_slot(database: Database) -> None:
    async def scenario() -> None:
        gate = TransactionGate(database)
        with anyio.move_on_after(0.2):
            async with gate.write() as connection:
                await anyio.to_thread.run_sync(
                    lambda: ResourceStore(connection).insert(
                        _record("cancelled"), index_rows("ServiceRequest", service_request())
                    )
                )
                await anyio.sleep(10)  # the client hangs up here
        with anyio.fail_after(5):
            async with gate.write() as connection:
                found = ResourceStore(connection).current("ServiceRequest", "cancelled")
        assert found is None

    _without_gc_rescue(scenario)


def test_requests_cancelled_at_any_moment_never_wedge_the_writer(database: Database) -> None:
    """Sixty writers, more than the thread pool and the connection pool, each cancelled
    at a random moment (waiting for a slot, opening, inside, closing): afterwards a
    write still gets through at once."""

    async def scenario() -> None:
        gate = TransactionGate(database)
        rng = random.Random(7)

        async def writer(delay: float) -> None:
            with anyio.move_on_after(delay):
                async with gate.write():
                    await anyio.sleep(0.005)

        async with anyio.create_task_group() as group:
            for _ in range(60):
                group.start_soon(writer, rng.uniform(0, 0.05))
        with anyio.fail_after(5):
            async with gate.write() as connection:
                assert connection.closed is False

    _without_gc_rescue(scenario)


def test_a_connection_lost_during_commit_is_answered_as_an_unknown_outcome(
    postgresql_url: str,
) -> None:
    """The database ends the session between the write and its COMMIT (as a crash or a
    failover would): whether it committed cannot be known, and the error says so, for
    the edge to answer 503 "may or may not have been stored" rather than "not stored"."""
    database = Database(postgresql_url)
    migrate.upgrade(database)

    async def scenario() -> None:
        gate = TransactionGate(database)
        async with gate.write() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with psycopg.connect(postgresql_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            asyncio.run(scenario())
        assert raised.value.outcome_unknown
        assert raised.value.status == 503
        assert "may or may not" in raised.value.message
    finally:
        database.dispose()
