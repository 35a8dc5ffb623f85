"""The BaRS update message: the request's event with reason update, focus the
ServiceRequest, carrying the ServiceRequest and what else changed, as valid FHIR R4; and
a message's resources as a transaction, for receivers that take transactions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.fhir.issues import ContentError
from core.handover.messages import as_transaction, read_message, request_message, update_message
from tests.builders import flag, service_request
from tests.core.handover.fhir.support import handover, resources
from tests.fhir_judge import assert_valid_fhir

GATEWAY = "https://gateway.test/fhir"
ENDPOINT = "https://rzz.test/fhir/$process-message"
NOW = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)


def _stored(resource: dict[str, Any], resource_id: str, version: str) -> dict[str, Any]:
    return {**resource, "id": resource_id, "meta": {"versionId": version}}


def _message(updated: dict[str, Any]) -> dict[str, Any]:
    request = _stored(service_request(status="revoked"), "sr-1", "2")
    return update_message(
        request,
        updated,
        message_id="msg-9",
        gateway_url=GATEWAY,
        endpoint=ENDPOINT,
        sender_ods="AZZ",
        receiver_ods="RZZ",
        now=NOW,
    )


def test_an_updated_service_request_travels_alone_under_an_update_header() -> None:
    request = _stored(service_request(status="revoked"), "sr-1", "2")
    message = _message(request)
    assert_valid_fhir(message)
    assert (message["id"], message["type"], message["timestamp"]) == (
        "msg-9",
        "message",
        "2026-11-30T12:05:00Z",
    )
    header = message["entry"][0]["resource"]
    assert header["id"] == "msg-9"
    assert header["eventCoding"]["code"] == "servicerequest-request"
    assert header["reason"]["coding"] == [
        {
            "system": "https://fhir.nhs.uk/CodeSystem/message-reason-bars",
            "code": "update",
            "display": "Update",
        }
    ]
    assert header["destination"] == [
        {
            "endpoint": ENDPOINT,
            "receiver": {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "RZZ",
                }
            },
        }
    ]
    assert header["sender"]["identifier"]["value"] == "AZZ"
    assert header["focus"] == [{"reference": f"{GATEWAY}/ServiceRequest/sr-1"}]
    assert [entry["fullUrl"] for entry in message["entry"][1:]] == [
        f"{GATEWAY}/ServiceRequest/sr-1"
    ]
    assert message["entry"][1]["resource"] == request


def test_another_updated_resource_travels_with_the_service_request() -> None:
    risk = _stored({**flag(), "status": "inactive"}, "flag-1", "3")
    message = _message(risk)
    assert_valid_fhir(message)
    assert [entry["fullUrl"] for entry in message["entry"][1:]] == [
        f"{GATEWAY}/ServiceRequest/sr-1",
        f"{GATEWAY}/Flag/flag-1",
    ]
    assert message["entry"][2]["resource"] == risk


def test_a_receiver_that_takes_transactions_gets_each_resource_put_under_its_id() -> None:
    made = resources(handover())
    message = request_message(
        made,
        message_id="b5a7c1de-0000-4000-8000-000000000002",
        gateway_url=GATEWAY,
        endpoint="https://rzz.test/fhir",
        sender_ods="AZZ",
        receiver_ods="RZZ",
        now=NOW,
    )
    transaction = as_transaction(message)
    assert transaction["type"] == "transaction"
    carried = [entry["resource"] for entry in transaction["entry"]]
    assert carried == made.all()  # every resource, as stored, no MessageHeader
    assert [entry["request"] for entry in transaction["entry"]] == [
        {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"} for r in made.all()
    ]
    assert_valid_fhir(transaction)


def test_a_referral_message_says_it_is_new_and_an_incoming_update_is_refused() -> None:
    message = request_message(
        resources(handover()),
        message_id="b5a7c1de-0000-4000-8000-000000000003",
        gateway_url=GATEWAY,
        endpoint=ENDPOINT,
        sender_ods="AZZ",
        receiver_ods="RZZ",
        now=NOW,
    )
    header = message["entry"][0]["resource"]
    assert header["reason"] == {
        "coding": [
            {
                "system": "https://fhir.nhs.uk/CodeSystem/message-reason-bars",
                "code": "new",
                "display": "New",
            }
        ]
    }
    assert read_message(message).header_id == header["id"]  # as sent, it is read back
    header["reason"]["coding"][0]["code"] = "update"
    with pytest.raises(ContentError) as refused:
        read_message(message)
    assert refused.value.issues[0].expression == "MessageHeader.reason"
