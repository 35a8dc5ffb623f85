"""Later versions of a pushed handover, through the API, on both databases: its author's
PUT (or the gateway marking an escalation answered) queues one BaRS update per push
receiver other than the one whose action it was, under the push's X-Correlation-ID, in
the update's transaction; a refused update queues nothing; and the updates show wherever
the handover's deliveries do."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.exchange.deliveries import Delivery
from gateway.platform.database import Database
from gateway.platform.settings import Settings
from tests.builders import service_request
from tests.exchange.support import EXAMPLES, deliveries, gateway, handover
from tests.fhir_judge import assert_valid_fhir
from tests.tokens import TRUST as TRUST_CLIENT
from tests.tokens import access_token, bearer

RZZ = "https://crisis.rzz.test/fhir"
RXX = "https://crisis.rxx.test/fhir"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
BARS_REASONS = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"


def _config(config_dir: Path, target: Path, pushes: dict[str, str]) -> Path:
    shutil.copytree(config_dir, target)
    entries = "".join(
        f"  - ods: {ods}\n    mode: push\n    base_url: {url}\n" for ods, url in pushes.items()
    )
    (target / "endpoints.yaml").write_text("endpoints:\n" + entries)
    return target


@pytest.fixture
def pushing(settings: Settings, config_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    """The gateway, as the provider (AZZ), with RZZ and RXX taking pushes."""
    config = _config(config_dir, tmp_path / "config", {"RZZ": RZZ, "RXX": RXX})
    with gateway(settings, config) as client:
        yield client


@pytest.fixture
def pulling(settings: Settings, config_dir: Path) -> Iterator[TestClient]:
    """The gateway, as the provider (AZZ), with every Trust pulling (the demo's way)."""
    with gateway(settings, config_dir) as client:
        yield client


def _push(client: TestClient, body: dict[str, Any], path: str = "handovers") -> dict[str, Any]:
    response = client.post(
        f"/api/{path}",
        content=json.dumps(body),
        headers={"Content-Type": "application/json", "X-Correlation-ID": "push-corr-1"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _escalation_to_two_trusts() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "escalation-manager.json").read_text())
    body["escalation"]["escalated_to"]["ods"] = "RXX"
    body["time_sensitivity"]["respond_by"] = handover("x")["time_sensitivity"]["respond_by"]
    return body


def _put(
    client: TestClient, reference: str, change: dict[str, Any], **headers: str
) -> tuple[Any, dict[str, Any]]:
    current = client.get(f"/fhir/{reference}", headers=headers).json()
    version = current["meta"]["versionId"]
    body = {**current, **change}
    response = client.put(
        f"/fhir/{reference}",
        content=json.dumps(body),
        headers={
            **FHIR_JSON,
            "If-Match": f'W/"{version}"',
            "X-Correlation-ID": "put-corr-9",
            **headers,
        },
    )
    return response, body


def _updates(database: Database) -> list[Delivery]:
    return [delivery for delivery in deliveries(database) if delivery.kind == "update"]


def _carried(delivery: Delivery) -> dict[str, dict[str, Any]]:
    message = json.loads(delivery.body)
    return {entry["resource"]["resourceType"]: entry["resource"] for entry in message["entry"][1:]}


def test_revoking_a_pushed_escalation_queues_one_update_per_push_receiver(
    pushing: TestClient, database: Database
) -> None:
    created = _push(pushing, _escalation_to_two_trusts(), "escalations")
    creates = deliveries(database)
    assert sorted(d.destination for d in creates) == ["RXX", "RZZ"]

    response, _ = _put(pushing, created["resources"]["ServiceRequest"], {"status": "revoked"})
    assert response.status_code == 200, response.text

    updates = _updates(database)
    assert sorted(d.destination for d in updates) == ["RXX", "RZZ"]
    for update in updates:
        assert update.correlation_id == "push-corr-1"  # the push's, not the PUT's
        assert update.service_request_id == created["id"]
        assert update.patient == creates[0].patient
        assert update.sender_ods == "AZZ"
        assert update.id not in {d.id for d in creates}
        message = json.loads(update.body)
        assert_valid_fhir(message)
        header = message["entry"][0]["resource"]
        assert header["id"] == message["id"] == update.id
        assert header["eventCoding"]["code"] == "servicerequest-request"
        assert header["reason"]["coding"][0] == {
            "system": BARS_REASONS,
            "code": "update",
            "display": "Update",
        }
        receiver = header["destination"][0]["receiver"]["identifier"]["value"]
        assert receiver == update.destination
        assert header["focus"][0]["reference"].endswith(f"/ServiceRequest/{created['id']}")
        revoked = _carried(update)
        assert list(revoked) == ["ServiceRequest"]
        assert revoked["ServiceRequest"]["status"] == "revoked"
        assert revoked["ServiceRequest"]["meta"]["versionId"] == "2"


def test_the_receiver_cannot_update_the_handover_and_nothing_is_queued(
    pushing: TestClient, database: Database
) -> None:
    created = _push(pushing, handover("UPD-R1"))
    trust = bearer(access_token(pushing, TRUST_CLIENT))
    reference = created["resources"]["ServiceRequest"]
    # Only the provider, its author, writes it (the Trust answers with a Task of its own).
    response, _ = _put(pushing, reference, {"priority": "routine"}, **trust)
    assert response.status_code == 403, response.text
    assert _updates(database) == []
    # A change by the provider is queued for RZZ: a Flag, with the ServiceRequest as
    # it stands.
    response, _ = _put(pushing, created["resources"]["Flag"][0], {"status": "inactive"})
    assert response.status_code == 200, response.text
    (update,) = _updates(database)
    assert update.destination == "RZZ"
    carried = _carried(update)
    assert list(carried) == ["ServiceRequest", "Flag"]
    assert carried["Flag"]["status"] == "inactive"
    assert carried["Flag"]["meta"]["versionId"] == "2"
    assert carried["ServiceRequest"]["meta"]["versionId"] == "1"


def test_an_update_to_a_handover_that_was_not_pushed_queues_nothing(
    pulling: TestClient, database: Database
) -> None:
    created = _push(pulling, handover("UPD-P1"))
    response, _ = _put(pulling, created["resources"]["ServiceRequest"], {"status": "revoked"})
    assert response.status_code == 200, response.text
    assert deliveries(database) == []


def test_an_update_to_a_resource_with_no_push_receivers_queues_nothing(
    pushing: TestClient, database: Database
) -> None:
    # Written over FHIR, never pushed, though its performer (RZZ) takes pushes.
    posted = pushing.post(
        "/fhir/ServiceRequest", content=json.dumps(service_request()), headers=FHIR_JSON
    )
    assert posted.status_code == 201, posted.text
    reference = f"ServiceRequest/{posted.json()['id']}"
    response, _ = _put(pushing, reference, {"status": "revoked"})
    assert response.status_code == 200, response.text
    assert deliveries(database) == []


def test_an_update_that_is_refused_queues_nothing(pushing: TestClient, database: Database) -> None:
    created = _push(pushing, handover("UPD-F1"))
    reference = created["resources"]["ServiceRequest"]
    current = pushing.get(f"/fhir/{reference}").json()
    revoked = {**current, "status": "revoked"}
    stale = pushing.put(
        f"/fhir/{reference}",
        content=json.dumps(revoked),
        headers={**FHIR_JSON, "If-Match": 'W/"7"'},
    )
    assert stale.status_code == 412, stale.text
    # The requester named is not the caller's organisation: 403.
    requester = {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code"}}
    requester["identifier"]["value"] = "R1A"
    forbidden = pushing.put(
        f"/fhir/{reference}",
        content=json.dumps({**revoked, "requester": requester}),
        headers=FHIR_JSON,
    )
    assert forbidden.status_code == 403, forbidden.text
    invalid = pushing.put(
        f"/fhir/{reference}",
        content=json.dumps({**revoked, "status": "torn-up"}),
        headers=FHIR_JSON,
    )
    assert invalid.status_code in (400, 422), invalid.text
    assert _updates(database) == []
    assert pushing.get(f"/fhir/{reference}").json()["meta"]["versionId"] == "1"
    # The same update, accepted, is queued: the refusals were what kept it back.
    accepted = pushing.put(
        f"/fhir/{reference}",
        content=json.dumps(revoked),
        headers={**FHIR_JSON, "If-Match": 'W/"1"'},
    )
    assert accepted.status_code == 200, accepted.text
    assert [d.destination for d in _updates(database)] == ["RZZ"]


def test_a_recorded_escalation_response_is_queued_for_the_other_receivers(
    pushing: TestClient, database: Database
) -> None:
    created = _push(pushing, _escalation_to_two_trusts(), "escalations")
    answer = {"received_at": "2026-11-30T14:40:00Z", "from": "Crisis duty manager"}
    answer["summary"] = "Home visit at 16:00."
    # RZZ answers in a Communication of its own; the gateway marks the escalation
    # answered, and that new version goes to the other receiver (RZZ knows its answer).
    recorded = pushing.post(
        f"/api/escalations/{created['id']}/responses",
        content=json.dumps(answer),
        headers={"Content-Type": "application/json", **bearer(access_token(pushing, TRUST_CLIENT))},
    )
    assert recorded.status_code == 200, recorded.text
    updates = _updates(database)
    assert sorted(d.destination for d in updates) == ["RXX"]
    communication = _carried(updates[0])["Communication"]
    assert communication["status"] == "completed"
    assert communication["id"] == created["resources"]["Communication"].split("/")[1]


def test_updates_show_in_the_deliveries_list_and_on_the_handover(
    pushing: TestClient, database: Database
) -> None:
    created = _push(pushing, handover("UPD-L1"))
    response, _ = _put(pushing, created["resources"]["ServiceRequest"], {"status": "revoked"})
    assert response.status_code == 200, response.text
    (update,) = _updates(database)
    listed = pushing.get("/api/deliveries").json()["deliveries"]
    assert [(d["kind"], d["state"]) for d in listed] == [
        ("handover", "queued"),
        ("update", "queued"),
    ]
    assert listed[1]["id"] == update.id
    assert listed[1]["service_request"] == f"ServiceRequest/{created['id']}"
    on_handover = pushing.get(f"/api/handovers/{created['id']}").json()["deliveries"]
    assert [d["id"] for d in on_handover] == [d["id"] for d in listed]
