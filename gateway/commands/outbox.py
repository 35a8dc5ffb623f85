"""`gateway outbox list | retry | discard`: the operator's side of deliveries.

Each command is an AuditEvent (outbox-command) written in the transaction of what it
did, so the log shows who requeued or gave up on which delivery, and when.
"""

from __future__ import annotations

import sys

from core.codes.audit import Subtype
from gateway.access_log.gateway_events import record_gateway_event
from gateway.exchange.deliveries import PENDING, DeliveryState
from gateway.exchange.outbox import OutboxStore
from gateway.platform.clock import utc_now
from gateway.platform.runtime import build_runtime
from gateway.platform.settings import Settings


def outbox_command(
    settings: Settings,
    command: str,
    *,
    delivery_id: str | None = None,
    states: tuple[str, ...] = (),
    reason: str | None = None,
) -> int:
    runtime = build_runtime(settings)
    try:
        with runtime.database.write() as connection:
            store = OutboxStore(connection)
            now = utc_now()
            if command == "list":
                listed = store.listed(
                    states=states or (*PENDING, DeliveryState.DEAD, DeliveryState.STOPPED),
                    limit=1000,
                )
                for d in listed:
                    due = (
                        d.next_attempt_at.isoformat() if d.state == DeliveryState.RETRYING else "-"
                    )
                    print(
                        f"{d.id}  {d.destination:<6} {d.state:<10} attempts={d.attempts:<3} "
                        f"next={due}  {d.last_error or ''}"
                    )
                print(f"{len(listed)} deliveries", file=sys.stderr)
                done = f"Outbox listed: {len(listed)} deliveries."
            elif command == "retry":
                assert delivery_id is not None
                if not store.requeue(delivery_id, now):
                    print(
                        "gateway: no dead, stopped or retrying delivery has that id",
                        file=sys.stderr,
                    )
                    return 1
                done = f"Delivery {delivery_id} requeued by an operator."
                print(f"requeued {delivery_id}")
            else:
                assert delivery_id is not None
                note = (
                    f"discarded by an operator: {reason}" if reason else "discarded by an operator"
                )
                if not store.discard(delivery_id, now, note[:500]):
                    print(
                        "gateway: no queued, retrying or dead delivery has that id", file=sys.stderr
                    )
                    return 1
                done = f"Delivery {delivery_id} discarded by an operator."
                print(f"discarded {delivery_id}")
            record_gateway_event(connection, runtime, Subtype.OUTBOX_COMMAND, done)
        return 0
    finally:
        runtime.database.dispose()
