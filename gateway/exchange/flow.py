"""What a running worker has in flight, and what has finished but is not yet recorded.

Each delivery is sent as a task of its own, so one slow endpoint holds up only its own
deliveries: the claim goes on filling the room the others leave, and outcomes are
recorded in batches as they finish, whatever else is still on the wire. The room is
bounded (`limit` deliveries in all, `per_endpoint` to any one endpoint), so a worker
never holds more leases than it can soon send.
"""

from __future__ import annotations

from collections import Counter
from typing import Generic, TypeVar

import anyio

Finished = TypeVar("Finished")


class Flow(Generic[Finished]):
    def __init__(self, *, limit: int, per_endpoint: int) -> None:
        self._limit = limit
        self._per_endpoint = per_endpoint
        self._sending: dict[str, str] = {}  # delivery id -> endpoint
        self._by_endpoint: Counter[str] = Counter()
        self._finished: list[Finished] = []
        self._closed = False
        self._changed = anyio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._sending)

    @property
    def unrecorded(self) -> int:
        return len(self._finished)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def room(self) -> int:
        return self._limit - len(self._sending)

    def full(self, endpoint: str) -> bool:
        """Whether `endpoint` has as many deliveries in flight as it may."""
        return self._by_endpoint[endpoint] >= self._per_endpoint

    def sending(self, delivery_id: str, endpoint: str) -> None:
        self._sending[delivery_id] = endpoint
        self._by_endpoint[endpoint] += 1

    def finished(self, delivery_id: str, outcome: Finished) -> None:
        endpoint = self._sending.pop(delivery_id, None)
        if endpoint is not None:
            self._by_endpoint[endpoint] -= 1
        self._finished.append(outcome)
        self._notify()

    def take_finished(self) -> list[Finished]:
        taken, self._finished = self._finished, []
        return taken

    def close(self) -> None:
        """Nothing more will be sent: the recorder records what is left, then stops."""
        self._closed = True
        self._notify()

    @property
    def drained(self) -> bool:
        return self._closed and not self._finished

    async def changed(self) -> None:
        """Until something finishes, or the flow closes."""
        await self._changed.wait()

    def _notify(self) -> None:
        # One event per change: whoever waited on this one wakes, later waiters wait on
        # the next. The loop is single-threaded, so no change falls between the two.
        self._changed.set()
        self._changed = anyio.Event()
