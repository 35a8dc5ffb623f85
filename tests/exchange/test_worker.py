"""Delivery workers against a receiver mocked at the HTTP boundary (respx), on both
databases: delivered, 409 duplicate as delivered, Retry-After honoured with the same
request id and body, dead letters, the consent re-check, network errors, and a Trust
that is down losing nothing and holding up no one."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import pytest
import respx
from sqlalchemy import select, update

from core.sharing import shared_facts
from gateway.exchange.breaker import CircuitBreaker
from gateway.exchange.deliveries import DeliveryState
from gateway.exchange.worker import DeliveryWorker
from gateway.fhir.store import ResourceStore, StoredResource
from gateway.platform.database import Database
from gateway.platform.schema import audit_events, outbox
from gateway.platform.settings import Settings
from tests.exchange.support import (
    Clock,
    config_loader,
    deliveries,
    gateway,
    handover,
    push,
    push_config,
)

TRUST = "https://crisis.rzz.test/fhir"
ENDPOINT = f"{TRUST}/$process-message"


@pytest.fixture
def config(config_dir: Path, tmp_path: Path) -> Path:
    return push_config(config_dir, tmp_path / "config", TRUST)


def worker(database: Database, config: Path, clock: Clock, **kwargs: object) -> DeliveryWorker:
    return DeliveryWorker(database, config_loader(config), clock=clock, **kwargs)  # type: ignore[arg-type]


def run_once(delivery_worker: DeliveryWorker) -> int:
    async def once() -> int:
        try:
            return await delivery_worker.run_once()
        finally:
            await delivery_worker.aclose()

    return anyio.run(once)


@respx.mock
def test_a_pushed_handover_is_delivered_as_a_referral_message(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(
        return_value=httpx.Response(200, headers={"Location": f"{TRUST}/Bundle/answer-1"})
    )
    with gateway(settings, config) as client:
        service_request_id = push(client, handover("EPR-1"))
    (queued,) = deliveries(database)
    assert queued.service_request_id == service_request_id
    assert run_once(worker(database, config, Clock())) == 1
    (delivered,) = deliveries(database)
    assert (delivered.state, delivered.attempts) == (DeliveryState.DELIVERED, 1)
    assert delivered.receiver_reference == f"{TRUST}/Bundle/answer-1"
    request = route.calls.last.request
    assert request.headers["X-Request-ID"] == delivered.id
    assert request.headers["X-Correlation-ID"] == delivered.correlation_id
    message = json.loads(request.content)
    assert message["type"] == "message"
    header = message["entry"][0]["resource"]
    assert header["eventCoding"]["code"] == "servicerequest-request"
    assert header["destination"][0]["receiver"]["identifier"]["value"] == "RZZ"
    types = [entry["resource"]["resourceType"] for entry in message["entry"]]
    assert types == [
        "MessageHeader",
        "ServiceRequest",
        "Flag",
        "Flag",
        "Communication",
        "Provenance",
    ]
    assert header["focus"][0]["reference"].endswith(f"/ServiceRequest/{service_request_id}")
    # The attempt is in the person's access history: sent to RZZ, for AZZ, delivered.
    with database.read() as connection:
        logged = (
            connection.execute(
                select(audit_events.c.content).where(
                    audit_events.c.subtype == "delivery-attempt",
                    audit_events.c.patient == "9434765919",
                )
            )
            .scalars()
            .all()
        )
    assert len(logged) == 1
    assert b"Delivery to RZZ: delivered" in logged[0]


@respx.mock
def test_retry_after_is_honoured_and_every_attempt_sends_the_same_request(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "120"}),
            httpx.Response(201),
        ]
    )
    with gateway(settings, config) as client:
        push(client, handover("EPR-2"))
    clock = Clock()
    delivery_worker = worker(database, config, clock)
    assert run_once(delivery_worker) == 1
    (waiting,) = deliveries(database)
    assert waiting.state == DeliveryState.RETRYING
    assert waiting.last_error == "HTTP 503"
    assert waiting.next_attempt_at - clock() >= timedelta(seconds=119)
    clock.advance(timedelta(seconds=60))
    assert run_once(delivery_worker) == 0  # not yet
    clock.advance(timedelta(seconds=61))
    assert run_once(delivery_worker) == 1
    (delivered,) = deliveries(database)
    assert (delivered.state, delivered.attempts) == (DeliveryState.DELIVERED, 2)
    first, second = (call.request for call in route.calls)
    assert first.headers["X-Request-ID"] == second.headers["X-Request-ID"] == delivered.id
    assert first.content == second.content


@respx.mock
def test_a_409_duplicate_counts_as_delivered(
    settings: Settings, database: Database, config: Path
) -> None:
    duplicate = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "duplicate"}],
    }
    respx.post(ENDPOINT).mock(return_value=httpx.Response(409, json=duplicate))
    with gateway(settings, config) as client:
        push(client, handover("EPR-3"))
    run_once(worker(database, config, Clock()))
    assert [d.state for d in deliveries(database)] == [DeliveryState.DELIVERED]


@respx.mock
def test_a_refusal_is_dead_lettered_at_once_with_its_reason(
    settings: Settings, database: Database, config: Path
) -> None:
    invalid = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": "NHS 9434765919"}],
    }
    respx.post(ENDPOINT).mock(return_value=httpx.Response(400, json=invalid))
    with gateway(settings, config) as client:
        push(client, handover("EPR-4"))
    run_once(worker(database, config, Clock()))
    (dead,) = deliveries(database)
    assert (dead.state, dead.last_error) == (DeliveryState.DEAD, "HTTP 400 (invalid)")


@respx.mock
def test_network_errors_are_retried_until_the_attempts_run_out(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    config = push_config(config_dir, tmp_path / "few", TRUST, max_attempts=2, base_seconds=1)
    respx.post(ENDPOINT).mock(side_effect=httpx.ConnectError("refused"))
    with gateway(settings, config) as client:
        push(client, handover("EPR-5"))
    clock = Clock()
    delivery_worker = worker(database, config, clock)
    run_once(delivery_worker)
    assert [(d.state, d.last_error) for d in deliveries(database)] == [
        (DeliveryState.RETRYING, "network error: ConnectError")
    ]
    clock.advance(timedelta(seconds=5))
    run_once(delivery_worker)
    assert [(d.state, d.attempts) for d in deliveries(database)] == [(DeliveryState.DEAD, 2)]


@respx.mock
def test_dissent_recorded_after_the_push_stops_the_delivery_before_it_is_sent(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(200))
    dissent = dissent_of("9434765919")
    with gateway(settings, config) as client:
        push(client, handover("EPR-6"))
        recorded = client.post(
            "/fhir/Consent", json=dissent, headers={"Content-Type": "application/fhir+json"}
        )
        assert recorded.status_code == 201, recorded.text
    run_once(worker(database, config, Clock()))
    (stopped,) = deliveries(database)
    assert stopped.state == DeliveryState.STOPPED
    assert stopped.last_error is not None
    assert "consent" in stopped.last_error
    assert not route.called


@respx.mock
def test_a_round_is_re_checked_with_one_consents_read_and_stops_only_the_dissenter(
    settings: Settings, database: Database, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(200))
    reads: list[list[str]] = []
    read_consents = ResourceStore.consents_for

    def counted(store: ResourceStore, patients: list[str]) -> list[StoredResource]:
        reads.append(sorted(patients))
        return read_consents(store, patients)

    with gateway(settings, config) as client:
        push(client, handover("EPR-MIX-1", nhs_number="9434765919"))
        push(client, handover("EPR-MIX-2", nhs_number="9434765870"))
        push(client, handover("EPR-MIX-3", nhs_number="9434765862"))
        recorded = client.post(
            "/fhir/Consent",
            json=dissent_of("9434765870"),
            headers={"Content-Type": "application/fhir+json"},
        )
        assert recorded.status_code == 201, recorded.text
    monkeypatch.setattr(ResourceStore, "consents_for", counted)
    assert run_once(worker(database, config, Clock())) == 3
    states = {d.patient: d.state for d in deliveries(database)}
    assert states == {
        "9434765919": DeliveryState.DELIVERED,
        "9434765870": DeliveryState.STOPPED,
        "9434765862": DeliveryState.DELIVERED,
    }
    assert route.call_count == 2
    assert reads == [["9434765862", "9434765870", "9434765919"]]


@respx.mock
def test_the_re_check_decides_on_the_facts_kept_with_the_delivery(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(200))
    with gateway(settings, config) as client:
        push(client, handover("EPR-FACTS-1", nhs_number="9434765919"))
        push(client, handover("EPR-FACTS-2", nhs_number="9434765870"))
    first, second = deliveries(database)
    assert first.sharing is not None
    # What the agreement does not cover, as if the message carried audit data.
    kept = [
        (resource_type, replace(data, category="audit"))
        for resource_type, data in shared_facts.decode(first.sharing)
    ]
    with database.write() as connection:
        connection.execute(
            update(outbox).where(outbox.c.id == first.id).values(sharing=shared_facts.encode(kept))
        )
        # Unreadable: decided from the message itself.
        connection.execute(
            update(outbox).where(outbox.c.id == second.id).values(sharing="not facts")
        )
    run_once(worker(database, config, Clock()))
    states = {d.id: (d.state, d.last_error) for d in deliveries(database)}
    assert states[first.id][0] == DeliveryState.STOPPED
    assert "category" in (states[first.id][1] or "")
    assert states[second.id] == (DeliveryState.DELIVERED, None)
    assert route.call_count == 1


def dissent_of(nhs_number: str) -> dict[str, object]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {
            "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}
        },
        "dateTime": "2026-11-30T09:00:00Z",
        "organization": [
            {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "AZZ",
                }
            }
        ],
        "provision": {"type": "deny"},
    }


@respx.mock
def test_a_trust_that_is_down_loses_nothing_and_its_circuit_opens(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(503))
    with gateway(settings, config) as client:
        for n in range(6):
            push(client, handover(f"EPR-7-{n}", nhs_number=NHS_NUMBERS[n]))
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=timedelta(minutes=5))
    delivery_worker = worker(database, config, clock, breaker=breaker)
    run_once(delivery_worker)
    assert {d.state for d in deliveries(database)} == {DeliveryState.RETRYING}
    assert breaker.state("RZZ", clock()) == "open"
    sent = route.call_count
    clock.advance(timedelta(minutes=4))
    assert run_once(delivery_worker) == 0  # the circuit is open: nothing is claimed
    assert route.call_count == sent
    assert len(deliveries(database)) == 6


@respx.mock
def test_a_hung_trust_costs_a_round_only_the_attempts_that_open_its_circuit(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(side_effect=httpx.ReadTimeout("no answer"))
    with gateway(settings, config) as client:
        for n in range(6):
            push(client, handover(f"EPR-HUNG-{n}", nhs_number=NHS_NUMBERS[n]))
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cooldown=timedelta(minutes=5))
    run_once(worker(database, config, clock, breaker=breaker))
    found = deliveries(database)
    sent = [d for d in found if d.attempts == 1]
    held = [d for d in found if d.attempts == 0]
    assert route.call_count == len(sent) < 6
    assert held  # claimed in the round, then not sent once the circuit opened
    assert {d.state for d in found} == {DeliveryState.RETRYING}
    assert {d.last_error for d in held} == {"not sent: the circuit to this endpoint is open"}
    assert all(d.next_attempt_at > clock() + timedelta(minutes=4) for d in held)
    with database.read() as connection:
        logged = connection.execute(
            select(audit_events.c.request_id).where(audit_events.c.subtype == "delivery-attempt")
        ).scalars()
        assert set(logged) == {d.id for d in sent}  # nothing was disclosed by the rest


@respx.mock
def test_a_probe_refused_as_poison_still_closes_the_circuit(
    settings: Settings, database: Database, config: Path
) -> None:
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(400))
    with gateway(settings, config) as client:
        push(client, handover("EPR-PROBE-1"))
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown=timedelta(seconds=30))
    breaker.failed("RZZ", clock())
    clock.advance(timedelta(seconds=31))  # half-open: this delivery is the probe
    run_once(worker(database, config, clock, breaker=breaker))
    assert route.call_count == 1
    assert [d.state for d in deliveries(database)] == [DeliveryState.DEAD]
    assert breaker.state("RZZ", clock()) == "closed"  # it answered: it is up


# Valid NHS numbers (Modulus 11), one person each.
NHS_NUMBERS = ["9434765919", "9434765870", "9434765862", "9434765854", "9434765846", "9434765838"]
