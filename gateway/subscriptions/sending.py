"""What the delivery workers ask of Subscriptions: whether each notification may still
be sent (before every attempt), and what its outcome means for its Subscription.

A notification is sent only while its Subscription is active and has not ended, its
client is still registered for it, and its URL is still under one configured for the
organisation; otherwise it is stopped (or, for a URL no longer configured, given up on).
A Subscription whose notification is given up on (dead-lettered), or whose
notifications fail `failure_limit` times in a row, is set to error with a reason that
names no patient data (a status, an issue code); its waiting notifications are stopped
and it is notified of nothing more until its owner asks for it again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection

from core.subscriptions.endpoints import endpoint_allowed
from core.subscriptions.request import Status
from core.subscriptions.resource import served
from gateway.configuration.models import GatewayConfig
from gateway.exchange.deliveries import Delivery, DeliveryState
from gateway.exchange.outbox import OutboxStore
from gateway.platform.logging import get_logger
from gateway.subscriptions.notifier import subscriber_of
from gateway.subscriptions.store import StoredSubscription, SubscriptionStore

log = get_logger(__name__)

STOPPED_IN_ERROR = "stopped: the subscription is in error"


@dataclass(frozen=True, slots=True)
class NotificationOutcome:
    """How one attempt at a notification ended (the worker's record of it)."""

    delivery: Delivery
    state: DeliveryState  # delivered, retrying, dead or stopped
    error: str | None
    attempted: bool = True  # False: held back unsent, which is no failure


def refusals_at_send(
    connection: Connection, deliveries: Sequence[Delivery], config: GatewayConfig, now: datetime
) -> dict[str, str]:
    """The notifications among `deliveries` that may not be sent now, by id, with why
    (to be stopped)."""
    notifications = [d for d in deliveries if d.is_notification]
    if not notifications:
        return {}
    found = SubscriptionStore(connection).statuses(
        {d.subscription_id for d in notifications if d.subscription_id}
    )
    refused: dict[str, str] = {}
    for delivery in notifications:
        subscription = found.get(delivery.subscription_id or "")
        if subscription is None:
            refused[delivery.id] = "stopped: the subscription was deleted"
        elif subscription.status is not Status.ACTIVE:
            refused[delivery.id] = f"stopped: the subscription is {subscription.status}"
        elif subscription.end_at is not None and subscription.end_at <= now:
            refused[delivery.id] = "stopped: the subscription has ended"
        elif subscriber_of(config, subscription) is None:
            refused[delivery.id] = "stopped: the subscription's client may no longer read this"
    return refused


def url_allowed(delivery: Delivery, config: GatewayConfig) -> bool:
    """Whether a notification's URL is still under one configured for its organisation."""
    endpoint = config.endpoints.notification_endpoint(delivery.destination)
    return (
        endpoint is not None
        and delivery.url is not None
        and endpoint_allowed(delivery.url, endpoint.notification_bases)
    )


def record_outcomes(
    connection: Connection,
    outcomes: Sequence[NotificationOutcome],
    *,
    failure_limit: int,
    now: datetime,
) -> list[str]:
    """Keep each Subscription's count of failures in a row, and set to error those that
    keep failing, in the transaction recording the outcomes. The ids set to error."""
    store = SubscriptionStore(connection)
    store.delivered(
        {
            o.delivery.subscription_id
            for o in outcomes
            if o.state == DeliveryState.DELIVERED and o.delivery.subscription_id
        }
    )
    errored: list[str] = []
    for outcome in outcomes:
        subscription_id = outcome.delivery.subscription_id
        if subscription_id is None:
            continue
        reason = None
        if outcome.state == DeliveryState.DEAD:
            reason = f"A notification was given up on: {outcome.error or 'no answer'}."
        elif outcome.state == DeliveryState.RETRYING and outcome.attempted:
            failures = store.failed(subscription_id)
            if failures >= failure_limit:
                reason = (
                    f"{failures} notifications in a row failed; the last: "
                    f"{outcome.error or 'no answer'}."
                )
        if reason is not None and _set_error(store, subscription_id, reason, now):
            OutboxStore(connection).stop_pending(subscription_id, now, STOPPED_IN_ERROR)
            log.warning("subscription.error", subscription=subscription_id)
            errored.append(subscription_id)
    return errored


def _set_error(store: SubscriptionStore, subscription_id: str, reason: str, now: datetime) -> bool:
    """A new version of an active Subscription, in error; False if it is not active
    (its owner turned it off, or it is in error already)."""
    current = store.get(subscription_id)
    if current is None or current.status is not Status.ACTIVE:
        return False
    return store.replace(in_error(current, reason, now), current.version_id)


def in_error(current: StoredSubscription, reason: str, now: datetime) -> StoredSubscription:
    version = current.version_id + 1
    # A version is never stamped earlier than the one it replaces.
    moment = max(now, current.last_updated + timedelta(microseconds=1))
    content = served(
        json.loads(current.content),
        subscription_id=current.id,
        version_id=version,
        last_updated=moment,
        status=Status.ERROR,
        error=reason,
    )
    return replace(
        current,
        version_id=version,
        last_updated=moment,
        status=Status.ERROR,
        error=reason[:500],
        content=content,
    )
