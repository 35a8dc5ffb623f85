"""Where the deliveries an organisation sent are: the read behind GET /api/deliveries."""

from __future__ import annotations

from sqlalchemy import Connection

from gateway.exchange.deliveries import Delivery
from gateway.exchange.outbox import OutboxStore


def deliveries_sent(
    connection: Connection,
    *,
    states: tuple[str, ...],
    destination: str | None,
    sender: str | None,
    service_request: str | None,
    limit: int,
) -> list[Delivery]:
    """`sender`: None for a caller who sees every organisation's (operators, the
    system-wide IG lead). A Subscription's notifications are not deliveries of a
    ServiceRequest: not listed here (docs/subscriptions.md)."""
    return OutboxStore(connection).listed(
        states=states,
        destination=destination,
        sender=sender,
        service_request=service_request,
        notifications=False,
        limit=limit,
    )
