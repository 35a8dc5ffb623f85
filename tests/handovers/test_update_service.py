"""HandoverUpdates, the write rule, on the real stores, on both databases: which updates
are queued, for whom, under which ids, and that they share the fate of the update's
transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from core.search.query import PagingLimits
from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.configuration.endpoints import Endpoint, Endpoints
from gateway.exchange.deliveries import Delivery, NewDelivery
from gateway.exchange.outbox import OutboxStore
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.fhir.writes import FhirWrites, WriteRules
from gateway.handovers.updates import HANDOVER_RESOURCE_TYPES, UPDATE_KIND, HandoverUpdates
from gateway.platform.database import Database
from tests.builders import PATIENT_NHS_NUMBER, flag, service_request

LIMITS = PagingLimits(20, 100)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
GATEWAY = "https://gateway.test/fhir"
PUSHES = Endpoints(
    endpoints=(
        Endpoint(ods="RZZ", mode="push", base_url="https://rzz.test/fhir"),
        Endpoint(ods="RXX", mode="push", base_url="https://rxx.test/fhir"),
    )
)


def _caller(ods: str) -> Caller:
    return Caller(
        client_id=f"test-{ods}",
        ods_code=ods,
        role="provider-epr",
        scopes=ScopeSet.parse(["system/*.cruds"]),
        purpose_of_use="direct-care",
        justification="seen today",
    )


class _Ids:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"update-{self.count}"


def _service(
    connection: Any, caller: Caller, endpoints: Endpoints = PUSHES, *, as_gateway: bool = False
) -> FhirWrites:
    """`caller`'s writes; `as_gateway`: the gateway's workflow writing because of what
    `caller` did (no caller of its own: only a record's author writes it otherwise)."""
    store = ResourceStore(connection)
    updates = HandoverUpdates(
        store,
        OutboxStore(connection),
        endpoints,
        GATEWAY,
        caller,
        clock=lambda: NOW,
        new_id=_Ids(),
    )
    rules = WriteRules()
    rules.register(HANDOVER_RESOURCE_TYPES, updates)
    resources = ResourceService(store, LIMITS, caller=None if as_gateway else caller)
    return FhirWrites(resources, rules)


def _pushed_to(connection: Any, service_request_id: str, *destinations: str) -> None:
    for destination in destinations:
        OutboxStore(connection).enqueue(
            NewDelivery(
                id=f"create-{destination}",
                destination=destination,
                patient=PATIENT_NHS_NUMBER,
                kind="handover",
                service_request_id=service_request_id,
                correlation_id="the-push",
                body="{}",
                sender_ods="AZZ",
                sender_client="test-AZZ",
                sender_role="provider-epr",
                purpose="direct-care",
                justification=None,
            ),
            NOW,
        )


@pytest.fixture
def handover(database: Database) -> dict[str, str]:
    """A ServiceRequest with a Flag as its supporting information, pushed to RZZ and RXX."""
    with database.write() as connection:
        gateway = ResourceService(ResourceStore(connection), LIMITS)
        risk = gateway.create("Flag", flag()).record
        request = gateway.create(
            "ServiceRequest",
            service_request(
                supportingInfo=[{"reference": f"Flag/{risk.id}"}],
                performer=[
                    {
                        "identifier": {
                            "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                            "value": code,
                        }
                    }
                    for code in ("RZZ", "RXX")
                ],
            ),
        ).record
        _pushed_to(connection, request.id, "RZZ", "RXX")
    return {"ServiceRequest": request.id, "Flag": risk.id}


def _current(connection: Any, resource_type: str, resource_id: str) -> dict[str, Any]:
    record = ResourceStore(connection).current(resource_type, resource_id)
    assert record is not None
    content: dict[str, Any] = json.loads(record.content)
    return content


def _updates(database: Database) -> list[Delivery]:
    with database.read() as connection:
        listed = OutboxStore(connection).listed()
    return [delivery for delivery in listed if delivery.kind == UPDATE_KIND]


def test_a_flag_update_is_queued_for_each_receiver_with_its_service_request(
    database: Database, handover: dict[str, str]
) -> None:
    with database.write() as connection:
        body = _current(connection, "Flag", handover["Flag"])
        _service(connection, _caller("AZZ")).update(
            "Flag", handover["Flag"], {**body, "status": "inactive"}
        )
    updates = _updates(database)
    assert [(d.id, d.destination) for d in updates] == [("update-1", "RZZ"), ("update-2", "RXX")]
    for update in updates:
        assert (update.correlation_id, update.patient) == ("the-push", PATIENT_NHS_NUMBER)
        assert update.service_request_id == handover["ServiceRequest"]
        assert (update.sender_ods, update.sender_client) == ("AZZ", "test-AZZ")
        assert (update.purpose, update.justification) == ("TREAT", "seen today")
        message = json.loads(update.body)
        assert [entry["fullUrl"] for entry in message["entry"][1:]] == [
            f"{GATEWAY}/ServiceRequest/{handover['ServiceRequest']}",
            f"{GATEWAY}/Flag/{handover['Flag']}",
        ]
        assert message["entry"][2]["resource"]["status"] == "inactive"


def test_the_writers_own_organisation_and_receivers_that_now_pull_are_skipped(
    database: Database, handover: dict[str, str]
) -> None:
    only_rxx_pushes = Endpoints(endpoints=(PUSHES.endpoints[1],))
    with database.write() as connection:
        body = _current(connection, "ServiceRequest", handover["ServiceRequest"])
        # The gateway writes because of what RXX did (an answer): RXX is not sent the
        # update its own answer caused, and RZZ now pulls.
        _service(connection, _caller("RXX"), only_rxx_pushes, as_gateway=True).update(
            "ServiceRequest", handover["ServiceRequest"], {**body, "priority": "asap"}
        )
        assert _current(connection, "ServiceRequest", handover["ServiceRequest"])["priority"]
    assert _updates(database) == []
    with database.write() as connection:
        body = _current(connection, "ServiceRequest", handover["ServiceRequest"])
        _service(connection, _caller("AZZ"), only_rxx_pushes).update(
            "ServiceRequest", handover["ServiceRequest"], {**body, "status": "revoked"}
        )
    assert [d.destination for d in _updates(database)] == ["RXX"]


def test_an_update_rolled_back_is_never_queued(
    database: Database, handover: dict[str, str]
) -> None:
    class Abandoned(Exception):
        pass

    def revoke_then_abandon() -> None:
        with database.write() as connection:
            body = _current(connection, "ServiceRequest", handover["ServiceRequest"])
            _service(connection, _caller("AZZ")).update(
                "ServiceRequest", handover["ServiceRequest"], {**body, "status": "revoked"}
            )
            assert len(OutboxStore(connection).listed()) == 4  # queued, in this transaction
            raise Abandoned

    with pytest.raises(Abandoned):
        revoke_then_abandon()
    assert _updates(database) == []


def test_resources_outside_a_handover_queue_nothing(
    database: Database, handover: dict[str, str]
) -> None:
    with database.write() as connection:
        loose = ResourceService(ResourceStore(connection), LIMITS).create("Flag", flag()).record
        body = _current(connection, "Flag", loose.id)
        _service(connection, _caller("AZZ")).update(
            "Flag", loose.id, {**body, "status": "inactive"}
        )
    assert _updates(database) == []
