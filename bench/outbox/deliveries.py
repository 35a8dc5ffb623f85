"""What the benchmark enqueues: deliveries as a handover push queues them.

Each delivery carries the BaRS message the gateway would send for the spec's handover
example (`examples/handover-crisis.json`: sender AZZ, receiver RZZ, two key risks), made
as `DeliveryQueue.enqueue` makes it (gateway/exchange/queueing.py): the dataset parsed
(`parse_dataset`), mapped (`to_fhir`, fresh resource ids), wrapped by `request_message`
(MessageHeader, ServiceRequest, 2 Flags, Communication, Provenance) and serialised as
there, about 13 KB. Every delivery has a patient (a valid NHS number) of its own, so the
outbox's per-person ordering never holds one back behind another, and is queued for the
demo provider's client (demo-provider-epr, role provider-epr, purpose TREAT), whose
sharing with RZZ the demo agreement (config/demo/agreements) covers: the consent
re-check before each attempt permits every one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.data import nhs_number
from bench.handovers.examples import HANDOVER, example
from core.handover.dataset_input import parse_dataset
from core.handover.fhir.elements import ResourceIds
from core.handover.fhir.resources import to_fhir
from core.handover.messages import request_message
from core.sharing import shared_facts
from gateway.exchange.deliveries import NewDelivery
from gateway.exchange.outbox import OutboxStore
from gateway.platform.database import Database

GATEWAY_URL = "http://127.0.0.1:8080/fhir"
SENDER_CLIENT, SENDER_ROLE, PURPOSE = "demo-provider-epr", "provider-epr", "TREAT"
# Patients apart from every other benchmark's (bench.data, bench.handovers).
PATIENT_OFFSET = 8_000_000  # to 8,999,999: 9xx NHS numbers end at about 9,090,000


class Deliveries:
    """New deliveries to `endpoint` (the receiver's $process-message URL), each for a
    patient of its own: the `first`th on."""

    def __init__(self, endpoint: str, *, first: int = 0) -> None:
        self._endpoint = endpoint
        self._template = example(HANDOVER, datetime.now(UTC) + timedelta(hours=4))
        self._next = first

    def make(self, now: datetime) -> NewDelivery:
        number = self._next
        self._next += 1
        body: dict[str, Any] = dict(self._template)
        patient = nhs_number(PATIENT_OFFSET + number)
        body["patient"] = {**self._template["patient"], "nhs_number": patient}
        body["external_id"] = f"BENCH-OUTBOX-{number:08d}"
        raw = json.dumps(body).encode()
        dataset = parse_dataset(body)
        ids = ResourceIds(
            service_request=str(uuid.uuid4()),
            communication=str(uuid.uuid4()),
            provenance=str(uuid.uuid4()),
            flags=tuple(str(uuid.uuid4()) for _ in dataset.key_risks),
        )
        resources = to_fhir(
            dataset, ids, received_at=now, dataset_sha256=hashlib.sha256(raw).hexdigest()
        )
        delivery_id = str(uuid.uuid4())
        message = request_message(
            resources,
            message_id=delivery_id,
            gateway_url=GATEWAY_URL,
            endpoint=self._endpoint,
            sender_ods=dataset.sender.ods,
            receiver_ods=dataset.receiver.ods,
            now=now,
        )
        return NewDelivery(
            id=delivery_id,
            destination=dataset.receiver.ods,
            patient=patient,
            kind=dataset.dataset,
            service_request_id=ids.service_request,
            correlation_id=ids.service_request,
            body=json.dumps(message, ensure_ascii=False, separators=(",", ":")),
            sender_ods=dataset.sender.ods,
            sender_client=SENDER_CLIENT,
            sender_role=SENDER_ROLE,
            purpose=PURPOSE,
            justification=None,
            sharing=shared_facts.encode(shared_facts.message_facts(message, patient)),
        )


def enqueue(database: Database, deliveries: Iterable[NewDelivery]) -> datetime:
    """Queue `deliveries` in one transaction (`OutboxStore.enqueue`, as a push does),
    all created now; the moment of the commit, when workers may first see them."""
    now = datetime.now(UTC)
    with database.write() as connection:
        outbox = OutboxStore(connection)
        for delivery in deliveries:
            outbox.enqueue(delivery, now)
    return datetime.now(UTC)
