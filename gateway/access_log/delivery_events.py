"""Each delivery attempt in the access log: which person's data was sent (or not) to which
organisation, for whom, under which request id, and how it ended. A Subscription's
notification names the version it is about, and its subscriber as the client."""

from __future__ import annotations

from core.access_log.event import AuditedClient, AuditFacts, AuditOutcome, EventKind
from core.codes.audit import Subtype
from gateway.access_log.trail import AccessTrail, Who
from gateway.exchange.deliveries import Delivery


def attempt_events(
    delivery: Delivery, outcome: AuditOutcome, description: str, gateway_url: str
) -> list[AuditFacts]:
    """`description` names the destination and the result, never patient data."""
    trail = AccessTrail(EventKind.APPLICATION, Subtype.DELIVERY_ATTEMPT, "E")
    notified = delivery.notified_version if delivery.is_notification else None
    if notified is not None:
        trail.refers_to(*notified, delivery.patient)
    else:
        trail.refers_to("ServiceRequest", delivery.service_request_id, None, delivery.patient)
    sender = AuditedClient(delivery.sender_client, delivery.sender_ods, None)
    who = Who(sender, None, (), delivery.id, delivery.correlation_id, gateway_url)
    return trail.events(who, outcome, description)
