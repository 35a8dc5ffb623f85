"""Notifying Subscriptions of what is written: a change listener (gateway.fhir.changes)
on every ResourceService that writes, so it hears of each version stored in the write's
own transaction, whoever wrote it (a client, or the gateway's own workflow).

For each version of a type some active Subscription is about, each such Subscription
whose organisation is party to it is matched by running its criteria as a search by
that organisation, for that one resource: the same party, agreement and consent checks
a read by it would meet (gateway.sharing.policy, deciding for the Subscription's client
as a Requester, at its registered purpose). What it could not read it is not told of,
not even that it exists. A match queues a notification in the outbox, in this
transaction: nothing stored goes unnotified, nothing is notified that was not stored.

Only the active Subscriptions to the written type are looked at (one probe of a partial
index), and only those whose organisation the version names run a search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection

from consent.purposes import purpose_for_agreement
from core.search.query import IdCriterion
from core.subscriptions.endpoints import endpoint_allowed, resource_url
from core.subscriptions.request import FULL_RESOURCE, SUBSCRIBABLE_TYPES, read_criteria
from gateway.auth.scopes import Interaction
from gateway.configuration.models import GatewayConfig
from gateway.exchange.deliveries import NOTIFICATION, NewDelivery
from gateway.exchange.outbox import OutboxStore
from gateway.fhir.patients import naming_people
from gateway.fhir.store import ResourceStore, StoredResource
from gateway.platform.clock import IdSource, new_id, utc_now
from gateway.platform.logging import get_logger
from gateway.sharing.policy import SharingPolicy, as_shown
from gateway.sharing.requester import Requester
from gateway.subscriptions.store import StoredSubscription, SubscriptionStore

log = get_logger(__name__)


class SubscriptionNotifier:
    """Queues the notifications a write's versions call for, in the write's transaction
    (`connection`), under the configuration `config` in force for it."""

    def __init__(
        self,
        connection: Connection,
        config: GatewayConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: IdSource = new_id,
    ) -> None:
        self._connection = connection
        self._config = config
        self._clock = clock
        self._new_id = new_id

    def stored(self, records: Sequence[StoredResource]) -> None:
        wanted = {record.resource_type for record in records} & set(SUBSCRIBABLE_TYPES)
        if not wanted:
            return
        now = self._clock()
        active = SubscriptionStore(self._connection).active_for(wanted, now)
        if not active:
            return
        store = ResourceStore(self._connection)
        policies: dict[Requester, SharingPolicy] = {}
        for record in records:
            parties = {party.ods_code for party in record.parties or ()}
            for subscription in active:
                if subscription.resource_type != record.resource_type:
                    continue
                if subscription.owner not in parties:
                    continue  # it could not read this: no search needed to say so
                self._consider(store, policies, subscription, record, now)

    def _consider(
        self,
        store: ResourceStore,
        policies: dict[Requester, SharingPolicy],
        subscription: StoredSubscription,
        record: StoredResource,
        now: datetime,
    ) -> None:
        subscriber = subscriber_of(self._config, subscription)
        if subscriber is None:
            return
        endpoint = self._config.endpoints.notification_endpoint(subscription.owner)
        if endpoint is None or not endpoint_allowed(
            subscription.endpoint, endpoint.notification_bases
        ):
            # The configuration no longer allows it (a reload since it was taken).
            log.warning("subscription.endpoint_not_allowed", subscription=subscription.id)
            return
        policy = policies.get(subscriber)
        if policy is None:
            policy = SharingPolicy(store, subscriber, self._config.agreements, now)
            policies[subscriber] = policy
        shown = _as_read(store, policy, subscription, record)
        if shown is None:
            return
        full = subscription.payload == FULL_RESOURCE
        delivery_id = self._new_id()
        OutboxStore(self._connection).enqueue(
            NewDelivery(
                id=delivery_id,
                destination=subscription.owner,
                patient=record.facts.patient if record.facts is not None else None,
                kind=NOTIFICATION,
                service_request_id="",
                # Its Subscription: the receiver knows which of its criteria matched.
                correlation_id=subscription.id,
                body=shown if full else "",
                sender_ods=subscriber.organisation,
                sender_client=subscriber.client_id,
                sender_role=subscriber.role,
                purpose=subscriber.purpose.value,
                justification=None,
                url=(
                    resource_url(subscription.endpoint, record.resource_type, record.id)
                    if full
                    else subscription.endpoint
                ),
                method="PUT" if full else "POST",
                headers=subscription.headers_json,
                subscription_id=subscription.id,
                resource=version_reference(record),
            ),
            now,
        )
        log.info(
            "subscription.notification_queued", subscription=subscription.id, delivery=delivery_id
        )


def subscriber_of(config: GatewayConfig, subscription: StoredSubscription) -> Requester | None:
    """Whom a Subscription's notifications are decided for: the client that created it,
    as registered now (for its organisation, with a search scope on the type, and a read
    scope when notifications carry the resource), at its registered purpose of use. None
    when it no longer is (a client removed from clients.yaml is notified of nothing)."""
    client = config.client(subscription.owner_client)
    if client is None or client.organisation != subscription.owner:
        return None
    scopes = client.allowed_scopes
    if not scopes.grants(subscription.resource_type, Interaction.SEARCH):
        return None
    if subscription.payload == FULL_RESOURCE and not scopes.grants(
        subscription.resource_type, Interaction.READ
    ):
        return None
    return Requester(
        organisation=client.organisation,
        client_id=client.client_id,
        role=client.role,
        purpose=purpose_for_agreement(client.purpose_of_use),  # type: ignore[arg-type]
    )


def version_reference(record: StoredResource) -> str:
    return f"{record.resource_type}/{record.id}/_history/{record.version_id}"


def _as_read(
    store: ResourceStore,
    policy: SharingPolicy,
    subscription: StoredSubscription,
    record: StoredResource,
) -> str | None:
    """`record` as the subscriber would be shown it by its criteria's search (its JSON
    text, without free text where an agreement withholds it); None if the search would
    not show it to the subscriber."""
    try:
        criteria = read_criteria(subscription.criteria)
    except ValueError:
        log.warning("subscription.criteria_unreadable", subscription=subscription.id)
        return None
    query = criteria.query()
    query = replace(
        query, criteria=(*query.criteria, IdCriterion((record.id,))), count=1, total=False
    )
    query = naming_people(store, query, subscription.owner)
    page = store.search(query, visible_to=subscription.owner, sharing=policy.search_filter())
    match = next((m for m in page.matches if m.version_id == record.version_id), None)
    if match is None:
        return None
    return as_shown(match.content, policy.decided(match))
