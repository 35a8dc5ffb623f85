"""The consent and agreement re-check before each delivery attempt.

Between the push and the attempt the person may have dissented, or the agreement may
have expired or been suspended: the delivery is decided again, for every resource it
carries, as the sender's organisation sharing it with the receiver, for the purpose and
with the justification the push was made with, on the resources' sharing facts kept with
the delivery. A round's deliveries are re-checked together: every person's Consents are
read in one query, whoever the senders are.

A Subscription's notification is a read by its subscriber: it is decided again as a
vread of the version it is about by that organisation would be (party to the record now
and to that version, and sharing both permitted), and what it carries must still be what
the subscriber may be shown (an agreement that now withholds free text stops one that
carries it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from consent.agreements import Agreement
from consent.model import Obligation
from consent.statements import ConsentStatement
from core.sharing import shared_facts
from core.sharing.shared_facts import SharedResource
from gateway.access_log.trail import NOT_PARTY
from gateway.exchange.deliveries import Delivery
from gateway.fhir.store import ResourceStore
from gateway.platform.logging import get_logger
from gateway.sharing.policy import SharingPolicy, as_shown
from gateway.sharing.requester import Requester

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str
    source: str | None

    def describe(self) -> str:
        return f"stopped at send time: {self.rule}" + (f" ({self.source})" if self.source else "")


def refusals_at_send(
    store: ResourceStore,
    deliveries: Sequence[Delivery],
    agreements: tuple[Agreement, ...],
    now: datetime,
) -> dict[str, Refusal]:
    """The deliveries that may no longer be sent, by id, each with its first denial."""
    statements: dict[str, list[ConsentStatement]] = {}
    policies: dict[Requester, SharingPolicy] = {}
    found: dict[str, Refusal] = {}
    for delivery in deliveries:
        sender = Requester.of_delivery(delivery)
        policy = policies.get(sender)
        if policy is None:
            policy = SharingPolicy(store, sender, agreements, now, statements=statements)
            policy.read_consents(d.patient for d in deliveries)  # once: they are shared
            policies[sender] = policy
        refusal = (
            _notification_refusal(store, policy, delivery)
            if delivery.is_notification
            else _refusal(policy, delivery)
        )
        if refusal is not None:
            found[delivery.id] = refusal
    return found


def _refusal(policy: SharingPolicy, delivery: Delivery) -> Refusal | None:
    for resource_type, data in _facts(delivery):
        decided = policy.on_share(resource_type, data, [delivery.destination], action="deliver")
        for _, decision in decided:
            if not decision.permitted:
                return Refusal(decision.rule.value, decision.source)
    return None


def _notification_refusal(
    store: ResourceStore, policy: SharingPolicy, delivery: Delivery
) -> Refusal | None:
    reader = delivery.sender_ods  # a notification is queued for its subscriber
    # One that cannot be read names nothing: refused as not there.
    resource_type, resource_id, version_id = delivery.notified_version or ("", "", 0)
    current = store.current(resource_type, resource_id)
    version = store.version(resource_type, resource_id, version_id)
    if (
        current is None
        or version is None
        or not store.is_party(resource_type, resource_id, reader)
        or reader not in {party.ods_code for party in version.parties or ()}
    ):
        return Refusal(NOT_PARTY, None)
    decisions = [policy.on_read(current), policy.on_read(version)]
    for decision in decisions:
        if not decision.permitted:
            return Refusal(decision.rule.value, decision.source)
    if delivery.body and as_shown(version.content, decisions[1]) != delivery.body:
        return Refusal(Obligation.WITHHOLD_FREE_TEXT.value, decisions[1].agreement)
    return None


def _facts(delivery: Delivery) -> list[SharedResource]:
    """What the delivery carries, as kept with it; from its message where nothing was
    kept (queued before migration 0007) or what was kept cannot be read."""
    if delivery.sharing is not None:
        try:
            return shared_facts.decode(delivery.sharing)
        except ValueError:
            log.warning("delivery.sharing_facts_unreadable", delivery=delivery.id)
    return shared_facts.message_facts(json.loads(delivery.body), delivery.patient)
