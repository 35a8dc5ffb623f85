"""Opening a request's transaction without blocking threads or leaking it on cancellation.

Routes run in a bounded thread pool. If requests waited for a database connection (or
for SQLite's single writer) inside worker threads, enough waiters could hold every
thread while the request holding the connection needs one to finish: a deadlock. So a
request first waits for a transaction slot in the event loop (a semaphore sized to the
pool, 1 for SQLite writes), and only then opens the transaction in a worker thread.

Opening and closing are shielded from cancellation: a request cancelled while its
transaction is opening (a client that hung up) still closes it, rolling back, so no
connection, transaction or write turn is ever left behind. Once a write's transaction is
open, the request timeout no longer applies to it (gateway.platform.deadline): it commits or
rolls back, and is answered accordingly. Only a connection lost during COMMIT leaves the
outcome unknown, and the answer says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager

import anyio
import anyio.to_thread
from sqlalchemy import Connection

from gateway.platform import database_faults as faults
from gateway.platform import deadline
from gateway.platform.database import Database
from gateway.platform.errors import DatabaseUnavailable


class TransactionGate:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._write_slots = anyio.Semaphore(database.write_capacity)
        self._read_slots = (
            self._write_slots
            if database.shares_one_pool
            else anyio.Semaphore(database.read_capacity)
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Connection]:
        async with (
            self._write_slots,
            _in_worker_thread(self._database.write, writes=True) as connection,
        ):
            yield connection

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        async with self._read_slots, _in_worker_thread(self._database.read) as connection:
            yield connection


@asynccontextmanager
async def _in_worker_thread(
    open_transaction: Callable[[], AbstractContextManager[Connection]], *, writes: bool = False
) -> AsyncIterator[Connection]:
    manager = open_transaction()
    # A limiter of its own for closing, so closing never waits for a busy pool thread.
    closer = anyio.CapacityLimiter(1)
    with anyio.CancelScope(shield=True):
        connection = await anyio.to_thread.run_sync(manager.__enter__)
    if writes:
        # Open: the write runs to its commit or rollback, bounded by the database's own
        # timeouts, and its answer says which (the request timeout no longer applies).
        deadline.lift()
    try:
        yield connection
    except BaseException as error:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(
                manager.__exit__, type(error), error, error.__traceback__, limiter=closer
            )
        raise
    with anyio.CancelScope(shield=True):
        try:
            await anyio.to_thread.run_sync(manager.__exit__, None, None, None, limiter=closer)
        except Exception as error:
            if writes and faults.is_unreachable(error):
                # The connection failed during COMMIT: the database may have committed.
                raise DatabaseUnavailable(outcome_unknown=True) from error
            raise
