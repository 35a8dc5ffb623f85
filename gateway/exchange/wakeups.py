"""PostgreSQL LISTEN/NOTIFY: a push queued by any gateway process wakes idle workers.

`OutboxStore.enqueue` notifies the channel in the transaction that queues the delivery,
so the notification arrives when (and only if) it commits. Each worker process keeps one
listening connection and rings its workers' doorbells on every notification, and once
on each (re)connection for anything queued while it was not listening. Losing the
connection costs latency, never work: the workers' poll remains the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import psycopg
from sqlalchemy.engine import URL

from gateway.exchange.deliveries import WAKE_CHANNEL
from gateway.exchange.doorbell import Doorbell
from gateway.platform.logging import get_logger

log = get_logger(__name__)

RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)


def libpq_conninfo(url: URL) -> str:
    """The SQLAlchemy URL as libpq takes it (no driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def ring_on_notify(url: URL, doorbells: Sequence[Doorbell]) -> None:
    """Listen until cancelled, ringing every doorbell on each notification."""
    failures = 0
    while True:
        try:
            connection = await psycopg.AsyncConnection.connect(libpq_conninfo(url), autocommit=True)
            try:
                await connection.execute(f"LISTEN {WAKE_CHANNEL}")
                failures = 0
                _ring(doorbells)
                async for _ in connection.notifies():
                    _ring(doorbells)
            finally:
                await _close(connection)
        except psycopg.Error as error:
            # The message may name the host; never data. The poll covers the gap.
            log.warning("delivery.listen_failed", error_type=type(error).__name__)
        pause = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
        failures += 1
        await anyio.sleep(pause)


async def _close(connection: psycopg.AsyncConnection[object]) -> None:
    """Close it whatever stopped the listener. `async with` closed it only after a
    rollback, which a cancelled scope interrupts again at any wait inside it, leaving the
    connection open for the collector (a ResourceWarning, and a server session, later)."""
    with anyio.CancelScope(shield=True):
        await connection.close()


def _ring(doorbells: Sequence[Doorbell]) -> None:
    for doorbell in doorbells:
        doorbell.ring()
