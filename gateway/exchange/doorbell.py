"""How an idle delivery worker learns that work was queued, without waiting out its poll.

A ring is never lost: the worker resets the doorbell before it looks for work, so a ring
while it looks makes its next wait end at once. The poll interval remains the fallback
(a retry falling due, a lease expiring, a notification missed while reconnecting).
"""

from __future__ import annotations

import anyio


class Doorbell:
    def __init__(self) -> None:
        self._rung = anyio.Event()

    def ring(self) -> None:
        self._rung.set()

    def reset(self) -> None:
        if self._rung.is_set():
            self._rung = anyio.Event()

    async def wait(self, timeout: float) -> None:
        """Until rung (or already rung since the last reset), or `timeout` seconds."""
        with anyio.move_on_after(timeout):
            await self._rung.wait()


class Doorbells:
    """Every doorbell of a process's workers: rung when the process itself queued work."""

    def __init__(self) -> None:
        self._doorbells: list[Doorbell] = []

    def add(self, doorbell: Doorbell) -> None:
        self._doorbells.append(doorbell)

    def ring(self) -> None:
        for doorbell in self._doorbells:
            doorbell.ring()
