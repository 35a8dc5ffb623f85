"""A delivery and its states: what the outbox holds and what its sender is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class DeliveryState(StrEnum):
    """Where a delivery is; the values are what the outbox's state column stores."""

    QUEUED = "queued"
    IN_FLIGHT = "in-flight"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    DEAD = "dead"
    STOPPED = "stopped"  # by consent or an agreement, at send time


# The outbox kind of a Subscription's notification (gateway.subscriptions): it goes to
# the URL it carries, as a read by its subscriber, not to the endpoint's message URL.
NOTIFICATION = "notification"

PENDING = (DeliveryState.QUEUED, DeliveryState.IN_FLIGHT, DeliveryState.RETRYING)
# PostgreSQL NOTIFY channel: rung by every transaction that makes a delivery due now.
WAKE_CHANNEL = "gateway_outbox"
STATES = tuple(DeliveryState)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    id: str
    destination: str
    patient: str | None
    kind: str
    service_request_id: str
    correlation_id: str
    body: str
    sender_ods: str
    sender_client: str
    sender_role: str | None
    purpose: str
    justification: str | None
    # core.sharing.shared_facts of what `body` carries, for the consent re-check.
    sharing: str | None = None
    # A notification's own (see NOTIFICATION; the outbox's columns say what each is).
    url: str | None = None
    method: str | None = None
    headers: str | None = None
    subscription_id: str | None = None
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """An attempt's outcome: final (delivered, dead, stopped) with when it finished, or
    retrying with when the next attempt is due."""

    delivery_id: str
    state: DeliveryState
    error: str | None
    finished_at: datetime | None = None
    retry_at: datetime | None = None
    reference: str | None = None
    attempted: bool = True  # False: the claim's attempt is given back (it was not sent)

    def parameters(self) -> dict[str, Any]:
        return {
            "b_id": self.delivery_id,
            "b_state": self.state,
            "b_finished_at": self.finished_at,
            "b_next_attempt_at": self.retry_at,
            "b_receiver_reference": self.reference,
            "b_last_error": self.error[:500] if self.error else None,
            "b_unsent": 0 if self.attempted else 1,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    seq: int
    id: str
    destination: str
    patient: str | None
    kind: str
    service_request_id: str
    correlation_id: str
    body: str
    sender_ods: str
    sender_client: str
    sender_role: str | None
    purpose: str
    justification: str | None
    sharing: str | None
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    receiver_reference: str | None
    finished_at: datetime | None
    url: str | None = None
    method: str | None = None
    headers: str | None = None
    subscription_id: str | None = None
    resource: str | None = None

    @property
    def is_notification(self) -> bool:
        return self.kind == NOTIFICATION

    @property
    def notified_version(self) -> tuple[str, str, int] | None:
        """A notification's version, ("Communication", "abc", 2) from its resource
        "Communication/abc/_history/2"; None for a delivery (or one unreadable)."""
        parts = (self.resource or "").split("/")
        if len(parts) != 4 or parts[2] != "_history" or not parts[3].isdecimal():
            return None
        return parts[0], parts[1], int(parts[3])
