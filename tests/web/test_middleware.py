"""BaRS request and correlation ids, and the promise that logs never carry patient data."""

from __future__ import annotations

import asyncio
import json
import uuid

from fastapi.testclient import TestClient
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from gateway.web.middleware import RequestContextMiddleware
from tests.builders import NHS, PATIENT_NHS_NUMBER, patient, service_request

FHIR = {"Content-Type": "application/fhir+json"}


def test_request_and_correlation_ids_are_echoed(client: TestClient) -> None:
    request_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    response = client.get(
        "/fhir/metadata", headers={"X-Request-ID": request_id, "X-Correlation-ID": correlation_id}
    )
    assert response.headers["X-Request-ID"] == request_id
    assert response.headers["X-Correlation-ID"] == correlation_id


def test_ids_are_generated_when_absent_and_on_errors_too(client: TestClient) -> None:
    response = client.get("/fhir/ServiceRequest/does-not-exist")
    assert response.status_code == 404
    uuid.UUID(response.headers["X-Request-ID"])
    uuid.UUID(response.headers["X-Correlation-ID"])


def test_an_unusable_request_id_is_refused_with_fresh_ids(client: TestClient) -> None:
    response = client.get("/fhir/metadata", headers={"X-Request-ID": "not ok\tat all"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["X-Request-ID"]
    uuid.UUID(response.headers["X-Request-ID"])


def test_every_log_line_of_a_request_carries_its_ids(client: TestClient) -> None:
    with capture_logs(processors=[merge_contextvars]) as logs:
        client.get("/fhir/ServiceRequest/unknown", headers={"X-Request-ID": "req-1"})
    request_lines = [line for line in logs if line.get("request_id") == "req-1"]
    assert {line["event"] for line in request_lines} >= {"request.refused", "request.completed"}
    assert all(line["correlation_id"] for line in request_lines)
    completed = next(line for line in request_lines if line["event"] == "request.completed")
    assert completed["route"] == "/fhir/ServiceRequest/{resource_id}"
    assert completed["status"] == 404


def test_no_patient_identifier_reaches_a_log_line(client: TestClient) -> None:
    """A full create / read / search / refuse scenario, every log call captured raw
    (before redaction): our code must not hand patient data to the logger at all."""
    person = patient()
    with capture_logs(processors=[merge_contextvars]) as logs:
        created = client.post("/fhir/Patient", json=person, headers=FHIR).json()
        client.get(f"/fhir/Patient/{created['id']}")
        client.post("/fhir/ServiceRequest", json=service_request(), headers=FHIR)
        client.get(
            "/fhir/ServiceRequest", params={"subject:identifier": f"{NHS}|{PATIENT_NHS_NUMBER}"}
        )
        client.post(
            "/fhir/ServiceRequest/_search",
            data={"patient:identifier": f"{NHS}|{PATIENT_NHS_NUMBER}"},
        )
        bad = service_request("9434765918")
        client.post("/fhir/ServiceRequest", json=bad, headers=FHIR)
        client.get(f"/fhir/Patient/{PATIENT_NHS_NUMBER}")
        client.get(f"/fhir/Patient?{PATIENT_NHS_NUMBER}=Alex")
    assert logs, "the scenario should have logged"
    text = json.dumps(logs, default=str)
    for secret in (PATIENT_NHS_NUMBER, "9434765918", "Alex", "Example", "1994-03-02"):
        assert secret not in text


def test_a_client_that_disconnects_mid_body_is_logged_quietly_and_nothing_is_sent() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ClientDisconnect()

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/fhir/Patient", "headers": []}
    with capture_logs() as logs:
        asyncio.run(RequestContextMiddleware(app)(scope, receive, send))
    assert sent == []
    assert [line["event"] for line in logs] == ["request.abandoned", "request.completed"]
    assert logs[-1]["status"] == 499
    assert all(line["log_level"] == "info" for line in logs)


def test_a_request_that_waits_too_long_is_answered_503_timeout() -> None:
    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(5)  # waiting for a body, or a database slot

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "GET", "path": "/fhir/Patient", "headers": []}
    with capture_logs() as logs:
        asyncio.run(RequestContextMiddleware(slow, timeout_seconds=0.05)(scope, receive, send))

    start = sent[0]
    assert start["status"] == 503
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    assert headers["retry-after"] == "5"
    outcome = json.loads(sent[1]["body"])
    assert outcome["issue"][0]["code"] == "timeout"
    assert "request.timed_out" in [line["event"] for line in logs]
