"""Who a sharing decision is made for: the organisation and client asking, in what
role, for what purpose, with what justification.

Both a request's Caller and a queued Delivery (the push it was made by, kept with it)
turn into one, so the decision point is applied the same way at write time and at send
time, with no stand-in Caller built for the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from consent.purposes import Purpose
from gateway.auth.caller import Caller
from gateway.exchange.deliveries import Delivery


@dataclass(frozen=True, slots=True)
class Requester:
    organisation: str  # ODS code
    client_id: str
    role: str | None
    purpose: Purpose
    # Why recorded dissent must be overridden, as the client stated it.
    justification: str | None = None

    @classmethod
    def of_caller(cls, caller: Caller) -> Requester:
        return cls(
            organisation=caller.ods_code,
            client_id=caller.client_id,
            role=caller.role,
            purpose=caller.purpose,
            justification=caller.justification,
        )

    @classmethod
    def of_delivery(cls, delivery: Delivery) -> Requester:
        """The sender of a delivery, as it was when the push was made."""
        return cls(
            organisation=delivery.sender_ods,
            client_id=delivery.sender_client,
            role=delivery.sender_role,
            purpose=Purpose(delivery.purpose),
            justification=delivery.justification,
        )
