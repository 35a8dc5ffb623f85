"""The resource service for records the gateway makes itself (a step-up, a ladder or
overdue notice, a restriction ended at its time limit): the one FHIR write path, with no
caller, on an organisation's behalf (the sharing policy decides each write as that
organisation's) or as the gateway alone, notifying Subscriptions in the same transaction
as any write does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from core.search.query import PagingLimits
from gateway.configuration.models import GatewayConfig
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.clock import IdSource, new_id
from gateway.sharing.policy import SharingPolicy
from gateway.sharing.requester import Requester
from gateway.subscriptions.notifier import SubscriptionNotifier

# What the gateway reads of its own records: a handful at a time.
_LOOKUP = PagingLimits(8, 8)


def gateway_service(
    connection: Connection,
    config: GatewayConfig,
    on_behalf: Requester | None,
    *,
    clock: Callable[[], datetime],
    new_id: IdSource = new_id,
) -> ResourceService:
    """`on_behalf`: whose sharing decides the writes; None for the gateway's own reads and
    writes of records whose parties are already settled."""
    store = ResourceStore(connection)
    sharing = (
        SharingPolicy(store, on_behalf, config.agreements, clock())
        if on_behalf is not None
        else None
    )
    return ResourceService(
        store,
        _LOOKUP,
        sharing=sharing,
        local_systems=config.directory.local_patient_systems,
        clock=clock,
        new_id=new_id,
        changes=SubscriptionNotifier(connection, config, clock=clock),
    )
