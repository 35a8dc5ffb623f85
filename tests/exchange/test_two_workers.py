"""Two `gateway worker` processes draining one PostgreSQL outbox of 2,000 deliveries to a
real Trust on loopback: every delivery is delivered, exactly once, none lost.

PostgreSQL only, by design: it is the database several worker processes share (FOR UPDATE
SKIP LOCKED); SQLite has a single writer and serves one process."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from gateway.exchange.deliveries import DeliveryState
from gateway.exchange.outbox import OutboxStore
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.schema import outbox
from tests import forked
from tests.exchange.support import deliveries, push_config
from tests.exchange.test_end_to_end import wait_for
from tests.exchange.test_outbox import delivery
from tests.exchange.trust import running_trust
from tests.servers import gateway_env

COUNT = 2000


@pytest.fixture
def shared_database(postgresql_url: str) -> Iterator[Database]:
    database = Database(postgresql_url)
    migrate.upgrade(database)
    with database.write() as connection:
        connection.execute(delete(outbox))
    try:
        yield database
    finally:
        with database.write() as connection:
            connection.execute(delete(outbox))
        database.dispose()


def test_two_worker_processes_deliver_2000_each_exactly_once(
    shared_database: Database, postgresql_url: str, config_dir: Path, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    with shared_database.write() as connection:
        store = OutboxStore(connection)
        for n in range(COUNT):
            # A person each, so that per-person order does not serialise them.
            store.enqueue(delivery(f"two-{n:05d}", patient=f"p{n:05d}"), now)
    with running_trust() as trust:
        config = push_config(config_dir, tmp_path / "config", trust.base_url)
        env = gateway_env(postgresql_url, GATEWAY_CONFIG_DIR=str(config))
        workers = [forked.start(["worker"], env=env, start_new_session=True) for _ in range(2)]
        try:
            done = wait_for(
                lambda: all(
                    d.state == DeliveryState.DELIVERED for d in deliveries(shared_database)
                ),
                180,
            )
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)
    assert done
    assert len(trust.stored) == COUNT
    assert trust.requests == COUNT  # no delivery was sent twice
    assert {d.state for d in deliveries(shared_database)} == {DeliveryState.DELIVERED}
    with shared_database.read() as connection:
        workers_seen = connection.execute(select(outbox.c.leased_by).distinct()).scalars().all()
    assert len(workers_seen) == 2  # both processes took part
