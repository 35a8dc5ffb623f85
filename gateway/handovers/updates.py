"""Later versions of a pushed handover, on their way to the Trusts it was pushed to: a
write rule (gateway.fhir.writes) for the resource types a dataset is mapped to.

When the ServiceRequest made from a handover or escalation, one of its Flags or its
Communication gets a new version (a FHIR update, a recorded escalation response), every
receiver the dataset was pushed to, other than the writer's own organisation, is sent a
BaRS update message carrying it. The outbox row is written in the update's transaction,
so an update that is rolled back is never delivered. It goes under a new request id and
the X-Correlation-ID of the original push, to the same destination about the same person
as the create, so the outbox's order per (destination, person) sends it after the create
and after every earlier update.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from core.handover.messages import update_message
from core.search.query import PagingLimits, parse_search
from gateway.auth.caller import Caller
from gateway.configuration.endpoints import Endpoints
from gateway.exchange.deliveries import Delivery
from gateway.exchange.outbox import OutboxStore
from gateway.exchange.queueing import new_delivery
from gateway.fhir.store import ResourceStore, StoredResource
from gateway.fhir.writes import Ruled, WriteContext
from gateway.platform.clock import Clock, IdSource, new_id, utc_now
from gateway.sharing.requester import Requester

# The resources a dataset is mapped to that a receiver acts on. (Its Provenance records
# what was received; it is not updated.)
HANDOVER_RESOURCE_TYPES = frozenset({"ServiceRequest", "Flag", "Communication"})
# The outbox kind of an update (the column holds 16 characters: "escalation-update"
# would not fit; the delivery's service_request says which dataset it updates).
UPDATE_KIND = "update"
# A Flag or Communication belongs to one dataset; a few more matches are tolerated.
_LOOKUP = PagingLimits(8, 8)


class HandoverUpdates:
    """Queues the delivery of each updated handover resource, on behalf of `caller`."""

    def __init__(
        self,
        resources: ResourceStore,
        outbox: OutboxStore,
        endpoints: Endpoints,
        gateway_url: str,
        caller: Caller,
        *,
        clock: Clock = utc_now,
        new_id: IdSource = new_id,
    ) -> None:
        self._resources = resources
        self._outbox = outbox
        self._endpoints = endpoints
        self._gateway_url = gateway_url
        self._caller = caller
        self._clock = clock
        self._new_id = new_id

    def on_create(self, body: dict[str, Any], context: WriteContext | None) -> Ruled:
        return Ruled(body)  # the push itself queues a dataset's first versions

    def on_update(self, resource_id: str, body: dict[str, Any]) -> Ruled:
        # In the update's transaction: delivered only if stored.
        return Ruled(body, then=self._queue_update)

    def _queue_update(self, record: StoredResource) -> None:
        self.updated(record)

    def updated(self, record: StoredResource) -> list[str]:
        """Queue `record`, a new version just written in this transaction, for every
        push receiver of the dataset it belongs to; the ids of the deliveries queued."""
        if record.resource_type not in HANDOVER_RESOURCE_TYPES:
            return []
        queued: list[str] = []
        for service_request_id in self._datasets_of(record):
            pushed = self._outbox.for_service_request(service_request_id)
            if pushed:
                queued += self._queue(service_request_id, pushed, record)
        return queued

    def _datasets_of(self, record: StoredResource) -> list[str]:
        """The ServiceRequests whose dataset `record` is part of: itself, or those that
        name it as supporting information (as stored, not as the update says)."""
        if record.resource_type == "ServiceRequest":
            return [record.id]
        reference = f"{record.resource_type}/{record.id}"
        query = parse_search("ServiceRequest", [("supporting-info", reference)], _LOOKUP)
        page = self._resources.search(replace(query, total=False))
        return [match.id for match in page.matches]

    def _queue(
        self, service_request_id: str, pushed: list[Delivery], record: StoredResource
    ) -> list[str]:
        original = pushed[0]  # the push itself: its correlation id and person stand
        service_request = (
            record
            if record.resource_type == "ServiceRequest"
            else self._resources.current("ServiceRequest", service_request_id)
        )
        if service_request is None:
            return []
        request_content = _content(service_request)
        updated_content = _content(record)
        now = self._clock()
        queued = []
        for destination in dict.fromkeys(delivery.destination for delivery in pushed):
            if destination == self._caller.ods_code:
                continue  # the writer has it already
            endpoint = self._endpoints.push_endpoint(destination)
            if endpoint is None:
                continue  # it pulls now: it reads the current version when it does
            delivery_id = self._new_id()
            message = update_message(
                request_content,
                updated_content,
                message_id=delivery_id,
                gateway_url=self._gateway_url,
                endpoint=endpoint.process_message_url,
                sender_ods=self._caller.ods_code,
                receiver_ods=destination,
                now=now,
            )
            self._outbox.enqueue(
                new_delivery(
                    endpoint,
                    message,
                    Requester.of_caller(self._caller),
                    patient=original.patient,
                    kind=UPDATE_KIND,
                    service_request_id=service_request_id,
                    correlation_id=original.correlation_id,
                ),
                now,
            )
            queued.append(delivery_id)
        return queued


def _content(record: StoredResource) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(record.content)
    return content
