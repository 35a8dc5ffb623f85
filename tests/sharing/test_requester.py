"""The sharing policy decides for a Requester: a caller at write time and the delivery
it queued at send time are the same Requester, decided the same way (no stand-in
Caller), on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from consent.model import Rule
from consent.purposes import Purpose
from core.search.query import PagingLimits
from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.configuration.endpoints import Endpoint
from gateway.exchange.deliveries import Delivery
from gateway.exchange.outbox import OutboxStore
from gateway.exchange.queueing import new_delivery
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database
from gateway.sharing.delivery_check import refusals_at_send
from gateway.sharing.policy import SharingPolicy
from gateway.sharing.requester import Requester
from tests.builders import (
    OTHER_NHS_NUMBER,
    PATIENT_NHS_NUMBER,
    PROVIDER_ODS,
    TRUST_ODS,
    service_request,
)
from tests.sharing.test_policy import AGREEMENT, _dissent

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
# The test agreement, covering safeguarding as well as direct care.
SAFEGUARDING = replace(AGREEMENT, purposes=frozenset({"direct-care", "safeguarding"}))
TRUST_ENDPOINT = Endpoint(ods=TRUST_ODS, mode="push", base_url="https://trust.example/fhir")


def _provider(purpose: Purpose | None = None, justification: str | None = None) -> Caller:
    return Caller(
        client_id="provider-epr-client",
        ods_code=PROVIDER_ODS,
        role="provider-epr",
        scopes=ScopeSet.parse(["system/*.cruds"]),
        purpose_of_use="direct-care",
        requested_purpose=purpose,
        justification=justification,
    )


def _message(message_id: str, number: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": message_id,
        "type": "message",
        "entry": [
            {"resource": {"resourceType": "MessageHeader"}},
            {"resource": service_request(number)},
        ],
    }


def _queued(database: Database, caller: Caller, message_id: str, number: str) -> Delivery:
    """A delivery queued on behalf of `caller`, as the worker reads it back."""
    with database.write() as connection:
        outbox = OutboxStore(connection)
        outbox.enqueue(
            new_delivery(
                TRUST_ENDPOINT,
                _message(message_id, number),
                Requester.of_caller(caller),
                patient=number,
                kind="handover",
                service_request_id=f"sr-{message_id}",
                correlation_id=message_id,
            ),
            NOW,
        )
        [delivery] = outbox.for_service_request(f"sr-{message_id}")
    return delivery


def _record_dissent(database: Database, number: str) -> None:
    caller = _provider()
    with database.write() as connection:
        store = ResourceStore(connection)
        policy = SharingPolicy(store, Requester.of_caller(caller), (AGREEMENT,), NOW)
        service = ResourceService(store, PagingLimits(20, 100), caller=caller, sharing=policy)
        service.create("Consent", _dissent(number))


def test_a_delivery_is_the_requester_that_queued_it(database: Database) -> None:
    caller = _provider(Purpose.SAFEGUARDING, "Risk to a child at home")

    delivery = _queued(database, caller, "m-1", PATIENT_NHS_NUMBER)

    assert Requester.of_delivery(delivery) == Requester.of_caller(caller)
    assert Requester.of_caller(caller) == Requester(
        organisation=PROVIDER_ODS,
        client_id="provider-epr-client",
        role="provider-epr",
        purpose=Purpose.SAFEGUARDING,
        justification="Risk to a child at home",
    )


def test_a_delivery_is_decided_as_its_sender_would_be_at_write_time(database: Database) -> None:
    _record_dissent(database, OTHER_NHS_NUMBER)
    dissented = _queued(database, _provider(), "m-dissent", OTHER_NHS_NUMBER)
    consented = _queued(database, _provider(), "m-none", PATIENT_NHS_NUMBER)

    with database.read() as connection:
        store = ResourceStore(connection)
        found = refusals_at_send(store, [dissented, consented], (AGREEMENT,), NOW)
        at_write = SharingPolicy(store, Requester.of_caller(_provider()), (AGREEMENT,), NOW)
        [(recipient, decision)] = at_write.on_write(
            "ServiceRequest", service_request(OTHER_NHS_NUMBER), OTHER_NHS_NUMBER, [TRUST_ODS]
        )

    assert set(found) == {dissented.id}
    assert found[dissented.id].rule == Rule.DISSENT.value
    assert (recipient, decision.rule) == (TRUST_ODS, Rule.DISSENT)


def test_an_override_purpose_kept_with_the_delivery_is_weighed_at_send_time(
    database: Database,
) -> None:
    _record_dissent(database, OTHER_NHS_NUMBER)
    unjustified = _queued(database, _provider(Purpose.SAFEGUARDING), "m-1", OTHER_NHS_NUMBER)
    justified = _queued(
        database, _provider(Purpose.SAFEGUARDING, "Risk to a child"), "m-2", OTHER_NHS_NUMBER
    )

    with database.read() as connection:
        found = refusals_at_send(
            ResourceStore(connection), [unjustified, justified], (SAFEGUARDING,), NOW
        )

    assert {key: refusal.rule for key, refusal in found.items()} == {
        unjustified.id: Rule.OVERRIDE_NEEDS_JUSTIFICATION.value
    }
