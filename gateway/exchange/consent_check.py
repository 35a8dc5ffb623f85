"""The consent and agreement re-check before each delivery attempt.

Between the push and the attempt the person may have dissented, or the agreement may
have expired or been suspended: the delivery is decided again, for every resource it
carries, as the sender's organisation sharing it with the receiver, for the purpose and
with the justification the push was made with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from consent.agreements import Agreement
from consent.purposes import Purpose
from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.services.sharing import SharingPolicy
from gateway.store.outbox import Delivery
from gateway.store.resources import ResourceStore


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str
    source: str | None

    def describe(self) -> str:
        return f"stopped at send time: {self.rule}" + (f" ({self.source})" if self.source else "")


def refusal_at_send(
    store: ResourceStore,
    delivery: Delivery,
    agreements: tuple[Agreement, ...],
    now: datetime,
) -> Refusal | None:
    """None if every resource in the delivery may still be sent; else the first denial."""
    sender = Caller(
        client_id=delivery.sender_client,
        ods_code=delivery.sender_ods,
        role=delivery.sender_role,
        scopes=ScopeSet(()),
        purpose_of_use="direct-care",
        requested_purpose=Purpose(delivery.purpose),
        justification=delivery.justification,
    )
    policy = SharingPolicy(store, sender, agreements, now)
    message = json.loads(delivery.body)
    for entry in message.get("entry", [])[1:]:  # after the MessageHeader
        resource = entry["resource"]
        decided = policy.on_write(
            resource["resourceType"], resource, [delivery.destination], action="deliver"
        )
        for _, decision in decided:
            if not decision.permitted:
                return Refusal(decision.rule.value, decision.source)
    return None
