"""The access log's sequencer, run in the background of every `gateway serve` process.

Each process tries every `audit_sequence_interval_seconds`; on PostgreSQL only one at a
time gets the sequencer lock and the others skip their turn, so adding processes adds
no contention. It goes through the transaction gate like any request, so on SQLite it
takes its turn as the single writer.
"""

from __future__ import annotations

from functools import partial

import anyio
import anyio.to_thread

from gateway.platform.logging import get_logger
from gateway.platform.runtime import Runtime, gate

log = get_logger(__name__)


async def sequence_audit_log(runtime: Runtime) -> None:
    interval = runtime.settings.audit_sequence_interval_seconds
    while True:
        more = False
        try:
            async with gate(runtime).write() as connection:
                outcome = await anyio.to_thread.run_sync(partial(runtime.sequencer.run, connection))
            more = outcome.more_waiting
            if outcome.checkpoint is not None:
                log.info(
                    "audit.checkpoint",
                    tree_size=outcome.checkpoint.checkpoint.tree_size,
                )
        except Exception as error:  # keep trying: the next turn may succeed
            log.error("audit.sequencer_failed", error_type=type(error).__name__)
        if not more:
            await anyio.sleep(interval)
