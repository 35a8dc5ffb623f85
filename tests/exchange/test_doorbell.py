"""The doorbell an idle worker waits on: a ring is never lost, and the poll still ends a
wait when nothing rings."""

from __future__ import annotations

import time

import anyio

from gateway.exchange.doorbell import Doorbell


def test_a_ring_before_the_wait_ends_it_at_once() -> None:
    async def scenario() -> float:
        doorbell = Doorbell()
        doorbell.ring()
        began = time.monotonic()
        await doorbell.wait(10)
        return time.monotonic() - began

    assert anyio.run(scenario) < 1


def test_a_reset_forgets_an_earlier_ring_and_the_wait_ends_at_its_timeout() -> None:
    async def scenario() -> float:
        doorbell = Doorbell()
        doorbell.ring()
        doorbell.reset()
        began = time.monotonic()
        await doorbell.wait(0.2)
        return time.monotonic() - began

    assert anyio.run(scenario) >= 0.2


def test_a_ring_while_waiting_wakes_the_waiter() -> None:
    async def scenario() -> float:
        doorbell = Doorbell()
        began = time.monotonic()
        async with anyio.create_task_group() as group:
            group.start_soon(doorbell.wait, 10)
            await anyio.sleep(0.05)
            doorbell.ring()
        return time.monotonic() - began

    assert anyio.run(scenario) < 5
