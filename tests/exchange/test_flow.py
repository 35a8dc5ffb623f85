"""The running worker's flow: each delivery sent as its own task, so a hung Trust holds
up only its own deliveries, never another Trust's (the issue: one Trust that is down
does not slow the others); and the bookkeeping of what is in flight."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import anyio
import httpx
import respx

from gateway.exchange.deliveries import DeliveryState
from gateway.exchange.flow import Flow
from gateway.exchange.worker import DeliveryWorker, WorkerSettings, run_workers
from gateway.platform.database import Database
from gateway.platform.settings import Settings
from tests.exchange.support import config_loader, deliveries, gateway, handover, push

HUNG = "https://crisis.rzz.test/fhir"
HEALTHY = "https://crisis.r1a.test/fhir"
NHS_NUMBERS = ("9434765919", "9434765870", "9434765862", "9434765854", "9434765846")


def two_trusts(config_dir: Path, target: Path) -> Path:
    shutil.copytree(config_dir, target)
    (target / "endpoints.yaml").write_text(
        "endpoints:\n"
        f"  - {{ods: RZZ, mode: push, base_url: '{HUNG}', concurrency: 2}}\n"
        f"  - {{ods: R1A, mode: push, base_url: '{HEALTHY}', concurrency: 2}}\n"
    )
    return target


@respx.mock
def test_a_hung_trust_does_not_hold_up_deliveries_to_another(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    on_the_wire: list[httpx.Request] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        on_the_wire.append(request)
        await anyio.sleep(30)  # longer than the test: only cancellation ends it
        return httpx.Response(200)

    respx.post(f"{HUNG}/$process-message").mock(side_effect=hang)
    healthy = respx.post(f"{HEALTHY}/$process-message").mock(return_value=httpx.Response(200))
    config = two_trusts(config_dir, tmp_path / "config")
    with gateway(settings.model_copy(update={"config_dir": config}), config) as client:
        for n in range(2):  # to the hung Trust first, so they are claimed first
            push(client, handover(f"HUNG-{n}", nhs_number=NHS_NUMBERS[n]))
        for n in range(2, 5):
            body = handover(f"HEALTHY-{n}", nhs_number=NHS_NUMBERS[n])
            body["receiver"]["ods"] = "R1A"
            push(client, body)
    worker = DeliveryWorker(database, config_loader(config), settings=WorkerSettings())

    def healthy_delivered() -> bool:
        return {d.state for d in deliveries(database) if d.destination == "R1A"} == {
            DeliveryState.DELIVERED
        }

    async def scenario() -> float:
        stopping = anyio.Event()
        began = time.monotonic()
        async with anyio.create_task_group() as group:
            group.start_soon(run_workers, [worker], stopping, database)
            while not healthy_delivered():
                assert time.monotonic() - began < 15, "held up behind the hung Trust"
                await anyio.sleep(0.05)
            waited = time.monotonic() - began
            group.cancel_scope.cancel()  # the hung sends would otherwise finish at 30 s
        return waited

    assert anyio.run(scenario) < 15
    assert healthy.call_count == 3
    assert len(on_the_wire) == 2  # on the wire all along, and never answered
    assert {d.state for d in deliveries(database) if d.destination == "RZZ"} == {"in-flight"}


def test_the_room_counts_what_is_in_flight_in_all_and_per_endpoint() -> None:
    flow: Flow[str] = Flow(limit=3, per_endpoint=2)
    flow.sending("a", "RZZ")
    flow.sending("b", "RZZ")
    flow.sending("c", "R1A")
    assert (flow.room, flow.full("RZZ"), flow.full("R1A")) == (0, True, False)
    flow.finished("a", "delivered a")
    flow.finished("stopped-before-sending", "stopped")  # never in flight: no room freed
    assert (flow.room, flow.full("RZZ")) == (1, False)
    assert flow.take_finished() == ["delivered a", "stopped"]
    assert flow.take_finished() == []


def test_a_waiter_wakes_when_something_finishes_and_the_flow_drains_once_closed() -> None:
    async def scenario() -> tuple[bool, bool]:
        flow: Flow[str] = Flow(limit=2, per_endpoint=2)
        flow.sending("a", "RZZ")
        async with anyio.create_task_group() as group:
            group.start_soon(flow.changed)
            await anyio.sleep(0.01)
            flow.finished("a", "done")
        flow.close()
        still = flow.drained  # one outcome not yet taken
        flow.take_finished()
        return still, flow.drained

    assert anyio.run(scenario) == (False, True)
