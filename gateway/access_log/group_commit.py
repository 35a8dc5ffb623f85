"""Group commit for the AuditEvents of reads: concurrent requests share one transaction.

A read's events must be durable before its response is sent, which costs a write
transaction per read: on SQLite, a turn at the single writer. Requests that arrive
while one commit is in flight queue up, and whoever next holds the lock commits every
queued request's events together and wakes them all. Nothing is acknowledged before
its commit; a commit that fails, or is interrupted, fails every request in it (closed,
503).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import anyio

from core.access_log.event import AuditFacts
from gateway.platform.errors import AuditUnavailable
from gateway.platform.logging import get_logger

log = get_logger(__name__)

Commit = Callable[[Sequence[AuditFacts]], Awaitable[None]]


@dataclass(slots=True)
class _Waiter:
    events: Sequence[AuditFacts]
    done: bool = False
    committed: bool = False


@dataclass(slots=True)
class GroupCommit:
    commit: Commit
    _queue: list[_Waiter] = field(default_factory=list)
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def append(self, events: Sequence[AuditFacts]) -> None:
        """Return once the events are committed; AuditUnavailable if they were not."""
        waiter = _Waiter(events)
        self._queue.append(waiter)
        async with self._lock:
            if not waiter.done:
                await self._commit_queued()
        if not waiter.committed:
            raise AuditUnavailable()

    async def _commit_queued(self) -> None:
        batch, self._queue = self._queue, []
        committed = False
        try:
            await self.commit([event for waiter in batch for event in waiter.events])
            committed = True
        except AuditUnavailable:
            pass  # logged where it happened
        except Exception as error:
            log.error("audit.append_failed", error_type=type(error).__name__)
        finally:
            for waiter in batch:
                waiter.done, waiter.committed = True, committed
