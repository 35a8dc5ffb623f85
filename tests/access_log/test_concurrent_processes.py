"""Two gateway processes on one PostgreSQL, each logging and each running its sequencer,
give one consistent tree: every event gets exactly one position, none is lost, and the
whole log verifies against the checkpoints both processes signed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, func, select

from gateway.access_log.checking import verify_database
from gateway.access_log.keys import KeyHistory, load_audit_signing_key
from gateway.access_log.sequencer import Sequencer
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.schema import audit_checkpoints, audit_events, metadata
from tests.servers import SIGNING_KEYS, running_server

EVENTS = 5000


@pytest.fixture
def postgres(postgresql_url: str) -> Iterator[Database]:
    database = Database(postgresql_url)
    migrate.upgrade(database)
    with database.write() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
    try:
        yield database
    finally:
        database.dispose()


async def _refused_requests(bases: list[str], count: int) -> None:
    """Each request without a token is refused and logged: one event apiece, since each
    comes from a loopback address of its own (repeats from one address are counted into
    one event a minute: gateway/access_log/repeated_refusals.py)."""
    semaphore = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        host, port = bases[n % len(bases)].removeprefix("http://").split(":")
        source = f"127.0.{n // 250 + 1}.{n % 250 + 1}"
        async with semaphore:
            reader, writer = await asyncio.open_connection(host, int(port), local_addr=(source, 0))
            writer.write(b"GET /fhir/ServiceRequest HTTP/1.1\r\nHost: gateway\r\n")
            writer.write(b"Connection: close\r\n\r\n")
            status_line = await reader.readline()
            await reader.read()
            writer.close()
            await writer.wait_closed()
            assert status_line.split(b" ")[1] == b"401"

    await asyncio.gather(*(one(n) for n in range(count)))


def test_two_processes_logging_together_make_one_consistent_tree(
    postgres: Database, postgresql_url: str
) -> None:
    fast = {"GATEWAY_AUDIT_SEQUENCE_INTERVAL_SECONDS": "0.05"}
    with (
        running_server(postgresql_url, **fast) as first,
        running_server(postgresql_url, **fast) as second,
    ):
        asyncio.run(_refused_requests([first, second], EVENTS))

    key = load_audit_signing_key(
        SIGNING_KEYS / "audit-signing-key.pem",
        name="mh-gateway/demo/audit",
        generate_if_missing=False,
    )
    with postgres.write() as connection:
        while Sequencer(key).run(connection, checkpoint_now=True).sequenced:
            pass
    with postgres.read() as connection:
        logged = connection.execute(select(func.count()).select_from(audit_events)).scalar()
        positions = connection.execute(
            select(
                func.count(audit_events.c.position.distinct()), func.max(audit_events.c.position)
            )
        ).one()
        signed = connection.execute(select(func.count()).select_from(audit_checkpoints)).scalar()
        report = verify_database(connection, KeyHistory.of(key, ()))
    # The requests' events, plus each process's configuration load.
    assert logged == EVENTS + 2
    assert tuple(positions) == (logged, logged - 1)
    assert signed is not None
    assert signed > 1  # checkpoints were signed while both processes logged
    assert report.ok, report.problem
    assert report.events_checked == logged
    assert report.tree_size == logged
