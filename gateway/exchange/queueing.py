"""Putting what was received on its way to the receivers whose systems take pushes.

The outbox row is written in the transaction that stores the dataset, so a handover is
never stored without its delivery, nor a delivery queued for a handover that was not
stored. Each delivery's body is fixed here, with its request id: every attempt sends
the same bytes under the same X-Request-ID, so the receiver can recognise a retry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.fhir.patients import person_of
from core.handover.dataset import EscalationSummary, Handover
from core.handover.fhir.elements import recipients
from core.handover.fhir.resources import DatasetResources
from core.handover.messages import as_transaction, request_message
from core.sharing import shared_facts
from gateway.configuration.endpoints import Endpoint, Endpoints
from gateway.exchange.deliveries import Delivery, NewDelivery
from gateway.exchange.outbox import OutboxStore
from gateway.platform.clock import IdSource, new_id
from gateway.sharing.requester import Requester


class DeliveryQueue:
    def __init__(
        self,
        outbox: OutboxStore,
        endpoints: Endpoints,
        gateway_url: str,
        *,
        new_id: IdSource = new_id,
    ) -> None:
        self._outbox = outbox
        self._endpoints = endpoints
        self._gateway_url = gateway_url
        self._new_id = new_id

    def of(self, service_request_id: str, ods_code: str) -> tuple[Delivery, ...]:
        """The deliveries of one dataset that `ods_code` sent or receives."""
        return tuple(
            delivery
            for delivery in self._outbox.for_service_request(service_request_id)
            if ods_code in (delivery.sender_ods, delivery.destination)
        )

    def enqueue(
        self,
        dataset: Handover | EscalationSummary,
        resources: DatasetResources,
        requester: Requester,
        correlation_id: str,
        now: datetime,
    ) -> list[str]:
        """One delivery per receiver that takes pushes; their ids."""
        queued = []
        for receiver in recipients(dataset):
            endpoint = self._endpoints.push_endpoint(receiver)
            if endpoint is None:
                continue  # that receiver pulls
            delivery_id = self._new_id()
            message = request_message(
                resources,
                message_id=delivery_id,
                gateway_url=self._gateway_url,
                endpoint=endpoint.process_message_url,
                sender_ods=dataset.sender.ods,
                receiver_ods=receiver,
                now=now,
            )
            self._outbox.enqueue(
                new_delivery(
                    endpoint,
                    message,
                    requester,
                    patient=person_of(dataset.patient),
                    kind=dataset.dataset,
                    service_request_id=str(resources.service_request["id"]),
                    correlation_id=correlation_id,
                ),
                now,
            )
            queued.append(delivery_id)
        return queued


def new_delivery(
    endpoint: Endpoint,
    message: Mapping[str, Any],
    sender: Requester,
    *,
    patient: str | None,
    kind: str,
    service_request_id: str,
    correlation_id: str,
) -> NewDelivery:
    """A delivery of `message` (its MessageHeader id is the delivery's id) to
    `endpoint`, on behalf of `sender`, whom the consent re-check decides as, on the
    sharing facts of what the message carries."""
    return NewDelivery(
        id=str(message["id"]),
        destination=endpoint.ods,
        patient=patient,
        kind=kind,
        service_request_id=service_request_id,
        correlation_id=correlation_id,
        body=delivery_body(endpoint, message),
        sender_ods=sender.organisation,
        sender_client=sender.client_id,
        sender_role=sender.role,
        purpose=sender.purpose.value,
        justification=sender.justification,
        sharing=shared_facts.encode(shared_facts.message_facts(message, patient)),
    )


def delivery_body(endpoint: Endpoint, message: Mapping[str, Any]) -> str:
    """The bytes every attempt sends: the message, or its resources as a transaction
    where the receiver takes transactions (endpoints.yaml `send`)."""
    sent = as_transaction(message) if endpoint.send == "transaction" else message
    return json.dumps(sent, ensure_ascii=False, separators=(",", ":"))
