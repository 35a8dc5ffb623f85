"""Sending the access log's newest checkpoint to its witnesses, in the background of every
`gateway serve` process (gateway.access_log.witness_sender does the sending).

Never in a request's path: a witness that is down delays nothing. Each round reads the
newest checkpoint from the database and brings every witness up to it, so a failed round
is simply retried by the next; a witness that stays behind shows as
`gateway_audit_witness_behind` (checkpoint positions it lacks) and
`gateway_audit_witness_failures_total`, and as an `audit.witness_failed` log line.
"""

from __future__ import annotations

import anyio
from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.access_log.merkle import consistency_path
from gateway.access_log.proofs import latest_checkpoint
from gateway.access_log.tree import StoredTree
from gateway.access_log.witness_sender import WitnessResult, WitnessSender
from gateway.platform.logging import get_logger
from gateway.platform.runtime import Runtime, gate

log = get_logger(__name__)


class WitnessMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.failures = Counter(
            "gateway_audit_witness_failures",
            "Rounds in which a witness could not be brought up to the newest checkpoint.",
            ["witness"],
            registry=registry,
        )
        self.behind = Gauge(
            "gateway_audit_witness_behind",
            "Positions between the newest checkpoint and the one the witness is known to "
            "hold (the whole tree while that is unknown).",
            ["witness"],
            registry=registry,
        )

    def record(self, result: WitnessResult, newest_size: int) -> None:
        self.behind.labels(result.witness).set(newest_size - (result.held_size or 0))
        if result.failure is not None:
            self.failures.labels(result.witness).inc()


async def witness_audit_log(
    runtime: Runtime, sender: WitnessSender, metrics: WitnessMetrics
) -> None:
    interval = runtime.settings.audit_witness_interval_seconds
    while True:
        try:
            await witness_once(runtime, sender, metrics)
        except Exception as error:  # keep trying: the next round may succeed
            log.error("audit.witnessing_failed", error_type=type(error).__name__)
        await anyio.sleep(interval)


async def witness_once(runtime: Runtime, sender: WitnessSender, metrics: WitnessMetrics) -> None:
    async with gate(runtime).read() as connection:
        newest = await anyio.to_thread.run_sync(latest_checkpoint, connection)
    if newest is None:
        return

    async def proof(old: int, new: int) -> list[bytes]:
        async with gate(runtime).read() as connection:
            tree = StoredTree(connection)
            return await anyio.to_thread.run_sync(tree.hashes, consistency_path(old, new), new)

    size = newest.checkpoint.tree_size
    for result in await sender.push(newest, proof):
        metrics.record(result, size)
        if result.failure is not None:
            log.warning(
                "audit.witness_failed",
                witness=result.witness,
                tree_size=size,
                held_size=result.held_size,
                reason=result.failure,
            )
